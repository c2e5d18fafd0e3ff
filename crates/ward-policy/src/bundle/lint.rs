//! Lints: problems that do not make a bundle invalid but are surely mistakes.

use marked_yaml::Node;
use ward_core::Outcome;

use super::compiled::{CompiledMatcher, CompiledRule};
use super::model::Document;
use super::yaml::{Diagnostic, Sources};

/// Warns about rules that can never change an outcome because an earlier,
/// unconditional deny covers every request they could match.
pub(crate) fn lint_shadowed_rules(
    docs: &[(Document, Node)],
    rules: &[CompiledRule],
    src: Sources<'_>,
) -> Vec<Diagnostic> {
    let spans: Vec<_> = docs
        .iter()
        .flat_map(|(d, _)| d.rules.iter().map(|r| *r.id.span()))
        .collect();
    let mut out = Vec::new();
    for (i, later) in rules.iter().enumerate() {
        if later.outcome == Outcome::Deny {
            continue;
        }
        let cover = rules.iter().take(i).find(|earlier| {
            earlier.outcome == Outcome::Deny
                && earlier.when.is_none()
                && covers(&earlier.matcher, &later.matcher)
        });
        if let (Some(earlier), Some(span)) = (cover, spans.get(i)) {
            out.push(src.warning(
                span,
                format!(
                    "rule `{}` can never fire: the earlier deny `{}` always covers it",
                    later.id, earlier.id
                ),
            ));
        }
    }
    out
}

/// Whether every request `b` matches is also matched by `a`.
fn covers(a: &CompiledMatcher, b: &CompiledMatcher) -> bool {
    let list_covers = |a: &[String], b: &[String]| {
        a.is_empty() || (!b.is_empty() && b.iter().all(|x| a.contains(x)))
    };
    let tools_cover = match (&a.tools, &b.tools) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b.iter().all(|t| a.contains(t)),
    };
    b.interventions.iter().all(|i| a.interventions.contains(i))
        && tools_cover
        && list_covers(&a.roles, &b.roles)
        && list_covers(&a.tenants, &b.tenants)
        && list_covers(&a.agents, &b.agents)
}
