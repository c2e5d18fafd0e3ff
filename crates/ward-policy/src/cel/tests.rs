//! Tests of the CEL compiler and evaluator. The unit tests pin the load-time
//! diagnostics; the property tests (`differential.rs`) hold the evaluator to
//! the `cel` crate's interpreter on generated expressions and requests.

use std::collections::BTreeMap;

use serde_json::json;
use ward_core::Request;

use super::compile::compile;
use super::node::Node;
use super::reference;
use super::{Activation, EvalError, Program, Value};
use crate::facts::{ArgProvenance, Facts, Finding, LimitState, ProvenanceLabel, ToolFacts};
use crate::shape::Shape;

mod differential;
mod generate;

pub(super) fn request() -> Request {
    serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {
            "principal": {
                "id": "u-1",
                "kind": "user",
                "roles": ["premium", "support"],
                "attrs": {"level": 3, "dept": "sales"}
            },
            "tenant": "acme",
            "session": "s-1",
            "agent": {"id": "bot", "version": "1.0.0"}
        },
        "tool": "refund",
        "action": "invoke",
        "args": {
            "amount": 120.5,
            "count": 3,
            "name": "Alice",
            "tags": ["a", "b"],
            "nested": {"x": 1, "s": "q"},
            "big": 18446744073709551615u64,
            "flag": true,
            "nul": null
        },
        "context": {"order_age_days": 12, "region": "eu"}
    }))
    .unwrap()
}

pub(super) fn facts() -> Facts {
    Facts {
        now: 1_700_000_000,
        scan: vec![
            Finding {
                kind: "pii.email".into(),
                rule: "email".into(),
                confidence: 0.9,
                arg: Some("name".into()),
            },
            Finding {
                kind: "injection".into(),
                rule: "ignore-previous".into(),
                confidence: 0.5,
                arg: None,
            },
        ],
        provenance: BTreeMap::from([(
            "to".to_owned(),
            ArgProvenance {
                label: ProvenanceLabel::Untrusted,
                sources: vec!["tool:read_email".into()],
            },
        )]),
        limits: BTreeMap::from([(
            "daily".to_owned(),
            LimitState {
                used: 400.0,
                limit: 500.0,
            },
        )]),
    }
}

pub(super) fn tool() -> ToolFacts {
    ToolFacts {
        name: "refund".into(),
        capability: "payment".into(),
        risk: "high".into(),
        consequential: true,
    }
}

fn args_shape() -> Shape {
    Shape::object([
        ("amount", Shape::Number),
        ("count", Shape::Int),
        ("name", Shape::String),
        ("tags", Shape::List(Box::new(Shape::String))),
        ("nested", Shape::Any),
        ("big", Shape::Number),
        ("flag", Shape::Bool),
        ("nul", Shape::Any),
    ])
}

fn program(source: &str) -> Program {
    compile(source, &Shape::root(args_shape())).unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn eval_bool(source: &str) -> Result<bool, EvalError> {
    let (request, facts, tool) = (request(), facts(), tool());
    let act = Activation {
        request: &request,
        tool: Some(&tool),
        facts: &facts,
    };
    program(source).eval_bool(&act)
}

fn compile_error(source: &str) -> super::CelError {
    match compile(source, &Shape::root(args_shape())) {
        Ok(p) => panic!("{source} compiled: {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_typical_condition_holds() {
    let source =
        "args.amount < 500.0 && 'premium' in principal.roles && context.order_age_days <= 30";
    assert_eq!(eval_bool(source), Ok(true));
}

#[test]
fn paths_read_the_request_and_facts() {
    for source in [
        "principal.id == 'u-1' && principal.kind == 'user' && tenant == 'acme'",
        "agent.id == 'bot' && agent.version == '1.0.0' && session == 's-1'",
        "tool.name == 'refund' && tool.capability == 'payment' && tool.consequential",
        "intervention == 'pre_tool_call' && action == 'invoke'",
        "principal.attrs.level == 3 && principal.attrs['dept'] == 'sales'",
        "scan.pii && scan.injection && !scan.secret",
        "scan.kinds == ['injection', 'pii.email']",
        "scan.findings[0].arg == 'name' && !has(scan.findings[1].arg)",
        "!provenance.args.to.trusted && provenance.args.to.label == 'untrusted'",
        "provenance.args.to.sources == ['tool:read_email']",
        "limits.daily.remaining == 100.0 && !limits.daily.exceeded",
        "now > 0 && args.big > 0u && args.count == 3 && args.nested.s == 'q'",
        "has(args.name) && !has(args.nested.y) && args.nul == null",
        "args.tags.exists(t, t == 'b') && args.tags.all(t, size(t) == 1)",
        "args.tags.map(t, t + t) == ['aa', 'bb'] && args.tags.filter(t, t != 'a') == ['b']",
        "args.name.matches('^A') && 'x' + args.name == 'xAlice'",
        "int('42') == 42 && uint(3) == 3u && double(1) == 1.0 && string(1.5) == '1.5'",
        "{'a': 1, 2: 'b'}[2] == 'b' && 1 in {1u: true}",
    ] {
        assert_eq!(eval_bool(source), Ok(true), "{source}");
    }
}

#[test]
fn absent_values_are_errors_and_has_is_false() {
    assert!(matches!(
        eval_bool("target == 'x'"),
        Err(EvalError::Unset("target"))
    ));
    assert!(matches!(
        eval_bool("content == 'x'"),
        Err(EvalError::Unset("content"))
    ));
    assert!(matches!(
        eval_bool("args.nested.y == 1"),
        Err(EvalError::NoSuchKey(_))
    ));
    assert!(matches!(
        eval_bool("context.nope == 1"),
        Err(EvalError::NoSuchKey(_))
    ));
    assert!(matches!(
        eval_bool("limits.weekly.used > 1.0"),
        Err(EvalError::NoSuchKey(_))
    ));
    let (request, facts) = (request(), facts());
    let act = Activation {
        request: &request,
        tool: None,
        facts: &facts,
    };
    assert_eq!(
        program("tool.risk == 'high'").eval_bool(&act),
        Err(EvalError::Unset("tool"))
    );
}

/// `&&` and `||` follow the reference (and cel-go): the absorbing value on
/// either side wins over an error on the other; otherwise the error stands.
#[test]
fn logical_operators_absorb_errors_like_the_reference() {
    let cases = [
        ("context.nope == 1 && false", Ok(false)),
        ("false && context.nope == 1", Ok(false)),
        ("context.nope == 1 || true", Ok(true)),
        ("true || context.nope == 1", Ok(true)),
        ("context.nope == 1 && true", Err(())),
        ("true && context.nope == 1", Err(())),
        ("context.nope == 1 || false", Err(())),
        ("false || context.nope == 1", Err(())),
        ("1 || true", Ok(true)),
        ("1 && true", Err(())),
        ("[1, 2].exists(x, x / 0 == 1 || x == 2)", Ok(true)),
        ("[0, 2].exists(x, 2 / x == 1)", Ok(true)),
        ("[0, 1].exists(x, 2 / x == 1)", Err(())),
        ("[0, 2].all(x, 2 / x == 1)", Err(())),
        ("[0, 1].all(x, 2 / x == 1)", Ok(false)),
        ("[0, 4].all(x, 2 / x == 1)", Ok(false)),
    ];
    for (source, expected) in cases {
        let got = eval_bool(source).map_err(|_| ());
        assert_eq!(got, expected, "{source}");
        let (request, facts, tool) = (request(), facts(), tool());
        let act = Activation {
            request: &request,
            tool: Some(&tool),
            facts: &facts,
        };
        let reference = reference::eval(source, &act)
            .map(|v| v == cel::Value::Bool(true))
            .map_err(|_| ());
        assert_eq!(got, reference, "reference disagrees on {source}");
    }
}

#[test]
fn integer_overflow_and_division_by_zero_are_errors() {
    for source in [
        "9223372036854775807 + 1 > 0",
        "-9223372036854775807 - 2 < 0",
        "(-9223372036854775807 - 1) / -1 < 0",
        "18446744073709551615u + 1u > 0u",
        "0u - 1u > 0u",
        "-(-9223372036854775807 - 1) > 0",
        "1 / 0 == 0",
        "1 % 0 == 0",
        "int(1e19) > 0",
        "uint(-1) > 0u",
    ] {
        assert!(eval_bool(source).is_err(), "{source}");
    }
    assert_eq!(eval_bool("1.0 / 0.0 > 1e308"), Ok(true));
}

#[test]
fn undeclared_fields_are_load_errors_with_a_suggestion() {
    let err = compile_error("args.amuont > 10");
    assert_eq!(
        err.message(),
        "undeclared field `args.amuont`; did you mean `amount`?"
    );
    assert_eq!(err.offset(), Some(4));
    // Offsets count bytes, whatever precedes the error.
    let err = compile_error("'é' == args.amuont");
    assert_eq!(err.offset(), Some(12));
    let err = compile_error("has(args.amuont)");
    assert!(err.message().contains("did you mean `amount`"), "{err}");
    let err = compile_error("principl.id == 'x'");
    assert_eq!(
        err.message(),
        "undeclared variable `principl`; did you mean `principal`?"
    );
    assert_eq!(err.offset(), Some(0));
    let err = compile_error("principal.role == 'x'");
    assert!(err.message().contains("did you mean `roles`"), "{err}");
    let err = compile_error("args['amuont'] > 1");
    assert!(err.message().contains("did you mean `amount`"), "{err}");
    let err = compile_error("args.name.first == 'x'");
    assert_eq!(
        err.message(),
        "`args.name` is a string and has no field `first`"
    );
    let err = compile_error("tool.zzzzzzzz");
    assert_eq!(err.message(), "undeclared field `tool.zzzzzzzz`");
    // `Any` and `Map` shapes permit any field.
    program("context.anything.deeper == 1 && principal.attrs.x == 1");
    program("limits.any_name.used > 0.0 && provenance.args.any.trusted");
    // A comprehension variable shadows a root variable and takes its shape.
    program("args.tags.exists(args, args == 'a')");
    let err = compile_error("scan.findings.exists(f, f.knd == 'pii')");
    assert!(err.message().contains("did you mean `kind`"), "{err}");
}

#[test]
fn syntax_errors_carry_a_byte_offset() {
    let err = compile_error("args.amount < ");
    assert!(
        err.message().starts_with("syntax error: mismatched input"),
        "{err}"
    );
    assert_eq!(err.offset(), Some(14));
    let err = compile_error("principal.id == 'é' &&\n  )");
    assert!(err.message().starts_with("syntax error"), "{err}");
    assert_eq!(err.offset(), Some(26));
    // Columns count characters; offsets count bytes.
    let err = compile_error("'é' == )");
    assert_eq!(err.offset(), Some(8));
}

#[test]
fn bad_regexes_are_load_errors_and_patterns_must_be_literals() {
    let err = compile_error("args.name.matches('(')");
    assert!(err.message().starts_with("invalid regex `(`"), "{err}");
    assert_eq!(err.offset(), Some(18));
    let err = compile_error("args.name.matches(args.name)");
    assert!(err.message().contains("string literal"), "{err}");
    let err = compile_error("matches(args.name, '[')");
    assert!(err.message().starts_with("invalid regex"), "{err}");
}

#[test]
fn regexes_are_compiled_once_at_load() {
    let p = program("args.name.matches('^A.*e$')");
    let Node::Matches(_, regex) = &p.root else {
        panic!("expected a matches node, got {:?}", p.root);
    };
    assert_eq!(regex.as_str(), "^A.*e$");
    assert_eq!(eval_bool("args.name.matches('^A.*e$')"), Ok(true));
}

#[test]
fn unsupported_constructs_are_named() {
    for (source, construct) in [
        ("b'abc' == b'abc'", "bytes literal"),
        ("max(1, 2) == 2", "max()"),
        ("args.name.lowerAscii() == 'a'", ".lowerAscii()"),
        ("type(1) == int", "type()"),
        ("Foo{a: 1} == null", "Foo {...}"),
        ("duration('1s') > duration('0s')", "duration()"),
    ] {
        let err = compile_error(source);
        assert_eq!(
            err.message(),
            format!("unsupported CEL construct `{construct}`"),
            "{source}"
        );
    }
    let err = compile_error("int == 1");
    assert!(err.message().contains("undeclared variable `int`"), "{err}");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    compile_error(&deep);
    let chain = format!("1{} == 1", " + 1".repeat(1000));
    compile_error(&chain);
    let long = "1 + ".repeat(2000) + "1";
    compile_error(&long);
    let nested_lists = format!("{}1{}", "[".repeat(70), "]".repeat(70));
    compile_error(&nested_lists);
    // 60 levels are fine.
    let ok = format!("{}1{} == 1", "-".repeat(30), "");
    program(&ok);
}

#[test]
fn a_non_bool_result_is_an_error() {
    assert_eq!(eval_bool("args.count"), Err(EvalError::NotBool("int")));
}

#[test]
fn values_borrow_from_the_request() {
    let (request, facts, tool) = (request(), facts(), tool());
    let act = Activation {
        request: &request,
        tool: Some(&tool),
        facts: &facts,
    };
    let p = program("args.name");
    let Ok(Value::String(std::borrow::Cow::Borrowed(name))) = p.eval(&act) else {
        panic!("expected a borrowed string");
    };
    assert!(std::ptr::eq(
        name.as_ptr(),
        request.args["name"].as_str().unwrap().as_ptr()
    ));
}

/// The best average time of `f` over several batches: on a shared machine
/// the minimum is the least noisy estimate.
fn best_of(batch: u32, mut f: impl FnMut()) -> std::time::Duration {
    (0..15)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .min()
        .unwrap()
}

/// A rough timing of the typical condition; run with `--release -- --ignored
/// --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn time_the_typical_condition() {
    let source =
        "args.amount < 500.0 && 'premium' in principal.roles && context.order_age_days <= 30";
    let (request, facts, tool) = (request(), facts(), tool());
    let act = Activation {
        request: &request,
        tool: Some(&tool),
        facts: &facts,
    };
    let prepared = reference::Prepared::new(source).unwrap();
    let theirs = best_of(200, || {
        assert!(prepared.eval(std::hint::black_box(&act)).is_ok());
    });
    println!("reference (context + interpret): {theirs:?}");
    for source in [
        source,
        "args.amount < 500.0",
        "'premium' in principal.roles",
        "context.order_age_days <= 30",
        "now > 0",
        "true",
    ] {
        let p = program(source);
        let ours = best_of(20_000, || {
            let got = std::hint::black_box(&p).eval_bool(std::hint::black_box(&act));
            assert!(got.is_ok());
        });
        println!("compiled `{source}`: {ours:?}");
    }
}
