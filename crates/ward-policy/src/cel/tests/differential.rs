//! Differential tests: Ward's compiled evaluator against the `cel` crate's
//! interpreter, on generated expressions over generated requests and facts.
//!
//! Both must return equal values (compared in a canonical form: doubles
//! bitwise, every `NaN` alike, maps by sorted key), or both an error.
//!
//! Known deviations, each excluded as narrowly as we can:
//!
//! - `list + map`: the reference appends the map's keys to the list; CEL has
//!   no such overload and Ward errors. A run whose Ward error is exactly that
//!   overload is not compared.
//! - `map()` and `filter()` over a map iterate its keys in `HashMap` order in
//!   the reference, so their results are not deterministic there; the
//!   generator only maps over lists.

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::super::compile::compile;
use super::super::reference;
use super::super::{Activation, EvalError, Value};
use super::generate::{expr, world, World};
use crate::shape::Shape;

/// A value in a form both evaluators' results convert to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Canon {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// The bits of the double, with every `NaN` the same.
    Double(u64),
    Str(String),
    List(Vec<Canon>),
    Map(Vec<(Canon, Canon)>),
}

fn double(d: f64) -> Canon {
    Canon::Double(if d.is_nan() {
        f64::NAN.to_bits()
    } else {
        d.to_bits()
    })
}

fn ours(v: &Value<'_>) -> Canon {
    match v {
        Value::Null => Canon::Null,
        Value::Bool(b) => Canon::Bool(*b),
        Value::Int(i) => Canon::Int(*i),
        Value::UInt(u) => Canon::UInt(*u),
        Value::Double(d) => double(*d),
        Value::String(s) => Canon::Str(s.to_string()),
        list if list.is_list() => {
            Canon::List(list.list_iter().unwrap().map(|v| ours(&v)).collect())
        }
        map => {
            let mut entries: Vec<(Canon, Canon)> = map
                .map_keys()
                .unwrap()
                .into_iter()
                .map(|k| {
                    let v = map.map_get(&k).unwrap().unwrap().unwrap();
                    (ours(&k), ours(&v))
                })
                .collect();
            entries.sort();
            Canon::Map(entries)
        }
    }
}

fn theirs(v: &cel::Value) -> Canon {
    use cel::objects::Key;
    match v {
        cel::Value::Null => Canon::Null,
        cel::Value::Bool(b) => Canon::Bool(*b),
        cel::Value::Int(i) => Canon::Int(*i),
        cel::Value::UInt(u) => Canon::UInt(*u),
        cel::Value::Float(d) => double(*d),
        cel::Value::String(s) => Canon::Str(s.to_string()),
        cel::Value::List(items) => Canon::List(items.iter().map(theirs).collect()),
        cel::Value::Map(m) => {
            let mut entries: Vec<(Canon, Canon)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::Int(i) => Canon::Int(*i),
                        Key::Uint(u) => Canon::UInt(*u),
                        Key::Bool(b) => Canon::Bool(*b),
                        Key::String(s) => Canon::Str(s.to_string()),
                    };
                    (k, theirs(v))
                })
                .collect();
            entries.sort();
            Canon::Map(entries)
        }
        other => panic!("unexpected reference value {other:?}"),
    }
}

/// Whether `err` is Ward's refusal of `list + map`, which the reference
/// accepts (see the module documentation).
fn is_list_plus_map(err: &EvalError) -> bool {
    matches!(err, EvalError::NoSuchOverload { op: "_+_", args } if args == "list, map")
}

fn check(source: &str, world: &World) -> Result<(), TestCaseError> {
    let act = Activation {
        request: &world.request,
        tool: world.tool.as_ref(),
        facts: &world.facts,
    };
    let program = match compile(source, &Shape::root(Shape::Any)) {
        Ok(p) => p,
        Err(e) => {
            // Only the shape check may refuse what the generator writes.
            let shape_error = e.message().contains("has no field")
                || e.message().contains("undeclared field")
                || e.message().contains("cannot iterate");
            prop_assert!(shape_error, "{source}: {e}");
            return Ok(());
        }
    };
    let got = program.eval(&act);
    let want = reference::eval(source, &act);
    match (&got, &want) {
        (Ok(g), Ok(w)) => prop_assert_eq!(ours(g), theirs(w), "{}", source),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) if is_list_plus_map(e) => {}
        _ => prop_assert!(false, "{source}\nward: {got:?}\nreference: {want:?}"),
    }
    Ok(())
}

proptest! {
    // `PROPTEST_CASES` sets the number of cases for a longer run.
    #![proptest_config(Config { cases: cases(2000), ..Config::default() })]

    #[test]
    fn ward_agrees_with_the_reference(g in expr(), world in world()) {
        check(&g.render(0), &world)?;
    }
}

/// Cases the generator found once, kept as regressions.
#[test]
fn regressions() {
    let world = World {
        request: super::request(),
        tool: Some(super::tool()),
        facts: super::facts(),
    };
    for source in [
        "1 == 1.0 && 1u == 1 && !(1.5 == 1) && [1] == [1.0] && {1: 'a'} == {1u: 'a'}",
        "9223372036854775807 == 9223372036854775807.0",
        "9223372036854775807 < 9223372036854775807.0",
        "(0.0 / 0.0) == (0.0 / 0.0)",
        "(0.0 / 0.0) < 1.0",
        "{1: 2}[1.0] == 2 && {'a': 1}['a'] == 1",
        "[1, 2][1.0]",
        "[1, 2][1.5]",
        "{1: 1, 1u: 2}",
        "{1.5: 1}",
        "string(1e21) + string(0.1) + string(-0.0)",
        "int(' 1')",
        "double('inf') > 1.0",
        "size('ünï') == 3",
        "principal == principal",
        "size(principal) + size(scan) + size(limits) + size(provenance)",
        "'daily' in limits && !('weekly' in limits) && 'to' in provenance.args",
        "[1] in [[1.0]]",
        "null in {'a': 1}",
        "scan.findings.map(f, f.kind)",
        "principal.exists(k, k == 'roles')",
        "args.exists_one(k, k.startsWith('n'))",
        "-9223372036854775808",
        "true ? 1 : 'a'",
        "1 ? 1 : 2",
    ] {
        check(source, &world).unwrap();
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(300), ..Config::default() })]

    /// Whatever the text, compiling refuses it or gives a program whose
    /// evaluation returns: no panic, no stack overflow.
    #[test]
    fn any_text_compiles_or_is_refused(
        source in "[a-z0-9_ .,:?!<>=&|+*/%'\"()\\[\\]{}-]{0,60}",
        world in world(),
    ) {
        check_total(&source, &world);
    }

    /// Generated expressions with one character changed.
    #[test]
    fn mutated_expressions_compile_or_are_refused(
        g in expr(),
        at in any::<prop::sample::Index>(),
        c in prop::sample::select(&['(', ')', '[', ']', '.', '\'', '!', '-', ' ', '?', ':', '{'][..]),
        world in world(),
    ) {
        let mut source: Vec<char> = g.render(0).chars().collect();
        let i = at.index(source.len().max(1));
        if let Some(slot) = source.get_mut(i) {
            *slot = c;
        }
        check_total(&source.into_iter().collect::<String>(), &world);
    }
}

/// `default`, or `PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn check_total(source: &str, world: &World) {
    let act = Activation {
        request: &world.request,
        tool: world.tool.as_ref(),
        facts: &world.facts,
    };
    if let Ok(program) = compile(source, &Shape::root(Shape::Any)) {
        let _ = program.eval(&act);
    }
}

#[test]
fn programs_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<super::super::Program>();
    shared::<reference::Prepared>();
}
