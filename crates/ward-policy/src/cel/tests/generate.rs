//! Generators for the differential tests: expressions over the request's
//! variables (mostly well typed, now and then not), and requests and facts
//! whose fields are usually present and of the expected type.
//!
//! `map()` and `filter()` are only generated over lists: over a map, the
//! reference iterates the keys in `HashMap` order, so its result is not
//! deterministic.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};
use ward_core::Request;

use crate::facts::{ArgProvenance, Facts, Finding, LimitState, ProvenanceLabel, ToolFacts};

/// A generated expression, rendered with its comprehension variables bound.
#[derive(Debug, Clone)]
pub(super) enum G {
    Leaf(&'static str),
    /// The innermost comprehension variable, or `args.count` outside any.
    Var,
    Unary(&'static str, Box<G>),
    Bin(&'static str, Box<G>, Box<G>),
    Cond(Box<G>, Box<G>, Box<G>),
    Index(Box<G>, Box<G>),
    Call(&'static str, Vec<G>),
    Method(Box<G>, &'static str, Vec<G>),
    List(Vec<G>),
    Map(Vec<(G, G)>),
    /// `range.kind(v, body)`; `map` and `filter` only over list ranges.
    Macro(&'static str, Box<G>, Box<G>),
}

impl G {
    pub(super) fn render(&self, depth: usize) -> String {
        let var = |d: usize| format!("v{d}");
        match self {
            G::Leaf(s) if s.contains(' ') && !s.starts_with(['[', '{']) => format!("({s})"),
            G::Leaf(s) => (*s).to_owned(),
            G::Var if depth == 0 => "args.count".to_owned(),
            G::Var => var(depth - 1),
            G::Unary(op, a) => format!("{op}({})", a.render(depth)),
            G::Bin(op, a, b) => format!("({} {op} {})", a.render(depth), b.render(depth)),
            G::Cond(c, t, f) => format!(
                "({} ? {} : {})",
                c.render(depth),
                t.render(depth),
                f.render(depth)
            ),
            G::Index(a, i) => format!("{}[{}]", a.render(depth), i.render(depth)),
            G::Call(f, args) => {
                let args: Vec<String> = args.iter().map(|a| a.render(depth)).collect();
                format!("{f}({})", args.join(", "))
            }
            G::Method(t, f, args) => {
                let args: Vec<String> = args.iter().map(|a| a.render(depth)).collect();
                format!("({}).{f}({})", t.render(depth), args.join(", "))
            }
            G::List(items) => {
                let items: Vec<String> = items.iter().map(|a| a.render(depth)).collect();
                format!("[{}]", items.join(", "))
            }
            G::Map(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.render(depth), v.render(depth)))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            G::Macro(kind, range, body) => {
                // Only lists are mapped over (see the module documentation).
                let is_list = match &**range {
                    G::Leaf(s) => LISTS.contains(s),
                    G::List(_) => true,
                    G::Macro(k, ..) => matches!(*k, "map" | "filter" | "map3"),
                    _ => false,
                };
                let range = match *kind {
                    "map" | "filter" | "map3" if !is_list => G::List(vec![(**range).clone()]),
                    _ => (**range).clone(),
                };
                let range = range.render(depth);
                let body = body.render(depth + 1);
                let v = var(depth);
                match *kind {
                    "map3" => format!("({range}).map({v}, {v} != 1, {body})"),
                    kind => format!("({range}).{kind}({v}, {body})"),
                }
            }
        }
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "7",
    "9223372036854775807",
    "-9223372036854775807",
    "4611686018427387904",
    "0u",
    "1u",
    "3u",
    "18446744073709551615u",
    "9223372036854775808u",
    "0.0",
    "-0.0",
    "1.5",
    "-2.5",
    "3.0",
    "0.1",
    "1e300",
    "-1e300",
    "9223372036854775807.0",
    "1e19",
    "args.amount",
    "args.count",
    "args.big",
    "context.order_age_days",
    "principal.attrs.level",
    "now",
    "limits.daily.remaining",
    "limits.daily.used",
    "scan.findings[0].confidence",
    "args.nested.x",
];

const BOOLS: &[&str] = &[
    "true",
    "false",
    "args.flag",
    "tool.consequential",
    "scan.pii",
    "scan.injection",
    "scan.secret",
    "provenance.args.to.trusted",
    "limits.daily.exceeded",
    "has(args.amount)",
    "has(args.nested.x)",
    "has(source.uri)",
    "has(source.tool)",
    "has(context.region)",
    "has(principal.attrs.dept)",
    "has(scan.findings[0].arg)",
    "args.name.matches('^A')",
    "matches(principal.id, 'u-[0-9]+')",
    "null == null",
    "args.nul == null",
];

const STRINGS: &[&str] = &[
    "''",
    "'a'",
    "'abc'",
    "'Alice'",
    "'premium'",
    "'eu'",
    "'42'",
    "'-7'",
    "'1.5'",
    "'1e3'",
    "'ünï'",
    "'^A'",
    "'inf'",
    "args.name",
    "principal.id",
    "principal.kind",
    "tenant",
    "session",
    "agent.id",
    "tool.name",
    "tool.risk",
    "intervention",
    "action",
    "target",
    "content",
    "source.kind",
    "source.uri",
    "provenance.args.to.label",
    "context.region",
    "scan.findings[0].kind",
];

const LISTS: &[&str] = &[
    "args.tags",
    "principal.roles",
    "scan.kinds",
    "scan.findings",
    "context.list",
    "[]",
    "[1, 2, 3]",
    "[0, 1]",
    "['a', 'b']",
    "[1, 'a', 2.0]",
    "[-1, 9223372036854775807]",
    "[1u, 2.5, -3]",
    "provenance.args.to.sources",
];

const MAPS: &[&str] = &[
    "args",
    "context",
    "principal",
    "principal.attrs",
    "agent",
    "tool",
    "source",
    "scan",
    "provenance",
    "provenance.args",
    "limits",
    "limits.daily",
    "args.nested",
    "{}",
    "{'a': 1, 'b': 'x'}",
    "{1: 'one', 2u: 'two', true: 3}",
];

#[derive(Clone, Copy)]
enum Ty {
    Num,
    Bool,
    Str,
    List,
    Map,
}

type Level = [BoxedStrategy<G>; 5];

fn leaves(ty: Ty) -> BoxedStrategy<G> {
    let table = match ty {
        Ty::Num => NUMBERS,
        Ty::Bool => BOOLS,
        Ty::Str => STRINGS,
        Ty::List => LISTS,
        Ty::Map => MAPS,
    };
    prop_oneof![8 => prop::sample::select(table).prop_map(G::Leaf), 1 => Just(G::Var)].boxed()
}

/// The strategies of one more level of nesting, built from the level below.
fn level(below: &Level) -> Level {
    let [num, boolean, string, list, map] = below.clone();
    let any = prop_oneof![
        num.clone(),
        boolean.clone(),
        string.clone(),
        list.clone(),
        map.clone()
    ]
    .boxed();
    let b = |s: &BoxedStrategy<G>| s.clone().prop_map(Box::new);
    let bin = |ops: &'static [&'static str], x: &BoxedStrategy<G>, y: &BoxedStrategy<G>| {
        (prop::sample::select(ops), b(x), b(y)).prop_map(|(op, x, y)| G::Bin(op, x, y))
    };
    let cond =
        |t: &BoxedStrategy<G>| (b(&boolean), b(t), b(t)).prop_map(|(c, x, y)| G::Cond(c, x, y));
    let container = prop_oneof![list.clone(), map.clone()].boxed();
    let macro_range = prop_oneof![3 => list.clone(), 1 => map.clone()].boxed();
    let numbers = prop_oneof![num.clone(), string.clone()];
    let nums = prop_oneof![
        4 => leaves(Ty::Num),
        4 => bin(&["+", "-", "*", "/", "%"], &num, &num),
        1 => b(&num).prop_map(|x| G::Unary("-", x)),
        1 => cond(&num),
        2 => (prop::sample::select(&["int", "uint", "double"][..]), numbers)
            .prop_map(|(f, x)| G::Call(f, vec![x])),
        1 => prop_oneof![string.clone(), container.clone()].prop_map(|x| G::Call("size", vec![x])),
        1 => container.clone().prop_map(|x| G::Method(Box::new(x), "size", vec![])),
        1 => (b(&list), b(&num)).prop_map(|(l, i)| G::Index(l, i)),
    ];
    let bools = prop_oneof![
        4 => leaves(Ty::Bool),
        3 => bin(&["==", "!=", "<", "<=", ">", ">="], &num, &num),
        1 => bin(&["==", "!=", "<", ">="], &string, &string),
        1 => bin(&["==", "!="], &any, &any),
        3 => bin(&["&&", "||"], &boolean, &boolean),
        1 => b(&boolean).prop_map(|x| G::Unary("!", x)),
        2 => (b(&any), b(&container)).prop_map(|(x, c)| G::Bin("in", x, c)),
        1 => (b(&string), prop::sample::select(&["contains", "startsWith", "endsWith"][..]), string.clone())
            .prop_map(|(t, f, x)| G::Method(t, f, vec![x])),
        2 => (prop::sample::select(&["exists", "all", "exists_one"][..]), b(&macro_range), b(&boolean))
            .prop_map(|(k, r, body)| G::Macro(k, r, body)),
        1 => cond(&boolean),
    ];
    let strings = prop_oneof![
        4 => leaves(Ty::Str),
        2 => bin(&["+"], &string, &string),
        1 => any.clone().prop_map(|x| G::Call("string", vec![x])),
        1 => cond(&string),
        1 => (b(&map), b(&string)).prop_map(|(m, k)| G::Index(m, k)),
    ];
    let lists = prop_oneof![
        3 => leaves(Ty::List),
        2 => prop::collection::vec(any.clone(), 0..4).prop_map(G::List),
        1 => bin(&["+"], &list, &list),
        2 => (prop::sample::select(&["map", "filter", "map3"][..]), b(&list), b(&any))
            .prop_map(|(k, r, body)| G::Macro(k, r, body)),
        1 => cond(&list),
    ];
    let maps = prop_oneof![
        3 => leaves(Ty::Map),
        2 => prop::collection::vec((prop_oneof![num.clone(), string.clone(), boolean.clone()], any.clone()), 0..3)
            .prop_map(G::Map),
        1 => cond(&map),
    ];
    // Now and then, anything where a type was expected.
    let mix = |typed: BoxedStrategy<G>| prop_oneof![9 => typed, 1 => any.clone()].boxed();
    [
        mix(nums.boxed()),
        mix(bools.boxed()),
        mix(strings.boxed()),
        mix(lists.boxed()),
        mix(maps.boxed()),
    ]
}

pub(super) fn expr() -> impl Strategy<Value = G> {
    let mut levels: Level = [Ty::Num, Ty::Bool, Ty::Str, Ty::List, Ty::Map].map(leaves);
    for _ in 0..3 {
        levels = level(&levels);
    }
    let [num, boolean, string, list, map] = levels;
    prop_oneof![2 => num, 6 => boolean, 1 => string, 1 => list, 1 => map]
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        (-3i64..10).prop_map(|i| json!(i)),
        prop::sample::select(&[i64::MAX, i64::MIN, 1 << 53][..]).prop_map(|i| json!(i)),
        prop::sample::select(&[u64::MAX, 1 << 63][..]).prop_map(|u| json!(u)),
        prop::sample::select(&[0.5, -0.0, 1e300, 120.5, 3.0, -2.5][..]).prop_map(|d| json!(d)),
        prop::sample::select(&["", "a", "Alice", "eu", "42", "ünï"][..]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            prop::collection::btree_map(prop::sample::select(&["a", "b", "x"][..]), inner, 0..3)
                .prop_map(|m| Json::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

/// A JSON value for `key`: usually of the type its name suggests, sometimes
/// anything, sometimes missing.
fn field(key: &'static str) -> BoxedStrategy<Option<Json>> {
    let typed = match key {
        "amount" => prop::sample::select(&[0.0, 120.5, 499.99, 1e300, -2.5][..])
            .prop_map(|d| json!(d))
            .boxed(),
        "count" | "order_age_days" => prop_oneof![
            (-3i64..40).prop_map(|i| json!(i)),
            Just(json!(i64::MAX)),
            Just(json!(i64::MIN))
        ]
        .boxed(),
        "big" => prop::sample::select(&[u64::MAX, 1 << 63][..])
            .prop_map(|u| json!(u))
            .boxed(),
        "name" | "region" => prop::sample::select(&["Alice", "eu", "", "ünï"][..])
            .prop_map(|s| json!(s))
            .boxed(),
        "tags" | "list" => prop::collection::vec(prop::sample::select(&["a", "b", "eu"][..]), 0..3)
            .prop_map(|v| json!(v))
            .boxed(),
        "nested" => (-2i64..3).prop_map(|x| json!({"x": x, "s": "q"})).boxed(),
        "flag" => any::<bool>().prop_map(Json::Bool).boxed(),
        _ => json_value().boxed(),
    };
    prop_oneof![
        8 => typed.prop_map(Some),
        1 => json_value().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

fn object(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Json>> {
    keys.iter()
        .map(|k| field(k))
        .collect::<Vec<_>>()
        .prop_map(move |values| {
            keys.iter()
                .zip(values)
                .filter_map(|(k, v)| Some(((*k).to_owned(), v?)))
                .collect()
        })
}

#[derive(Debug, Clone)]
pub(super) struct World {
    pub(super) request: Request,
    pub(super) tool: Option<ToolFacts>,
    pub(super) facts: Facts,
}

pub(super) fn world() -> impl Strategy<Value = World> {
    let args = object(&[
        "amount", "count", "big", "name", "tags", "nested", "flag", "nul",
    ]);
    let context = object(&["order_age_days", "region", "list"]);
    let roles = prop::collection::vec(prop::sample::select(&["premium", "support", "a"][..]), 0..3);
    let optional =
        || prop::option::weighted(0.8, prop::sample::select(&["x", "invoke", "order:1"][..]));
    let finding = (
        prop::sample::select(&["pii", "pii.ssn", "injection", "secret.aws"][..]),
        prop::sample::select(&[0.0, 0.5, 1.0][..]),
        prop::option::of(Just("name")),
    )
        .prop_map(|(kind, confidence, arg)| Finding {
            kind: kind.into(),
            rule: "r".into(),
            confidence,
            arg: arg.map(Into::into),
        });
    let label = prop::sample::select(
        &[
            ProvenanceLabel::Trusted,
            ProvenanceLabel::Untrusted,
            ProvenanceLabel::New,
        ][..],
    );
    let facts = (
        prop::sample::select(&[0i64, 1_700_000_000, i64::MAX][..]),
        prop_oneof![1 => Just(vec![]), 4 => prop::collection::vec(finding, 1..4)],
        prop::option::weighted(0.9, label),
        prop::option::weighted(
            0.9,
            (0.0f64..10.0, prop::sample::select(&[0.0, 5.0, 10.0][..])),
        ),
    )
        .prop_map(|(now, scan, label, limit)| Facts {
            now,
            scan,
            provenance: label
                .map(|label| {
                    let p = ArgProvenance {
                        label,
                        sources: vec!["tool:read_email".into()],
                    };
                    BTreeMap::from([("to".to_owned(), p)])
                })
                .unwrap_or_default(),
            limits: limit
                .map(|(used, limit)| {
                    BTreeMap::from([("daily".to_owned(), LimitState { used, limit })])
                })
                .unwrap_or_default(),
        });
    (
        args,
        context,
        roles,
        optional(),
        optional(),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.85),
        facts,
    )
        .prop_map(
            |(args, context, roles, action, target, tool, source, facts)| {
                let mut request = super::request();
                request.args = args;
                request.context = context;
                request.actor.principal.roles = roles.into_iter().map(Into::into).collect();
                request.action = action.map(Into::into);
                request.target = target.map(Into::into);
                request.source = source.then(|| ward_core::ContentSource {
                    kind: "web".into(),
                    tool: Some("fetch".into()),
                    uri: None,
                    trust: None,
                });
                World {
                    request,
                    tool: tool.then(super::tool),
                    facts,
                }
            },
        )
}
