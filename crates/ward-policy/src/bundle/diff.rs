//! Differences between two bundle versions, for review before rollout.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::compiled::Compiled;

/// What changed between two bundles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BundleDiff {
    /// `name version` of each side.
    pub old: String,
    /// `name version` of the new side.
    pub new: String,
    /// Rule ids only in the new bundle, in its order.
    pub added_rules: Vec<String>,
    /// Rule ids only in the old bundle.
    pub removed_rules: Vec<String>,
    /// Rule ids in both, whose definition changed.
    pub changed_rules: Vec<String>,
    /// Rule ids in both whose position relative to each other changed.
    pub reordered_rules: Vec<String>,
    /// Tools only in the new catalog.
    pub added_tools: Vec<String>,
    /// Tools only in the old catalog.
    pub removed_tools: Vec<String>,
    /// Tools in both whose declaration changed.
    pub changed_tools: Vec<String>,
}

impl BundleDiff {
    /// Whether the two bundles have the same rules and tools.
    pub fn is_empty(&self) -> bool {
        self.added_rules.is_empty()
            && self.removed_rules.is_empty()
            && self.changed_rules.is_empty()
            && self.reordered_rules.is_empty()
            && self.added_tools.is_empty()
            && self.removed_tools.is_empty()
            && self.changed_tools.is_empty()
    }
}

/// Compares two compiled bundles by their rules and tools as written.
pub fn diff(old: &Compiled, new: &Compiled) -> BundleDiff {
    let rules = |c: &Compiled| -> Vec<(String, Value)> {
        c.rules
            .iter()
            .map(|r| (r.id.clone(), r.source.clone()))
            .collect()
    };
    let tools = |c: &Compiled| -> Vec<(String, Value)> {
        let mut t: Vec<_> = c
            .tools
            .iter()
            .map(|t| (t.facts.name.clone(), t.source.clone()))
            .collect();
        t.sort_by(|a, b| a.0.cmp(&b.0));
        t
    };
    let (added_rules, removed_rules, changed_rules) = compare(&rules(old), &rules(new));
    let (added_tools, removed_tools, changed_tools) = compare(&tools(old), &tools(new));
    let common_old: Vec<&String> = old
        .rules
        .iter()
        .map(|r| &r.id)
        .filter(|id| new.rules.iter().any(|r| &r.id == *id))
        .collect();
    let common_new: Vec<&String> = new
        .rules
        .iter()
        .map(|r| &r.id)
        .filter(|id| old.rules.iter().any(|r| &r.id == *id))
        .collect();
    let reordered_rules = common_new
        .iter()
        .zip(&common_old)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| (*a).clone())
        .collect();
    BundleDiff {
        old: format!("{} {}", old.policy.name, old.policy.version),
        new: format!("{} {}", new.policy.name, new.policy.version),
        added_rules,
        removed_rules,
        changed_rules,
        reordered_rules,
        added_tools,
        removed_tools,
        changed_tools,
    }
}

fn compare(
    old: &[(String, Value)],
    new: &[(String, Value)],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let old_map: BTreeMap<&str, &Value> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new_map: BTreeMap<&str, &Value> = new.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let added = new
        .iter()
        .filter(|(k, _)| !old_map.contains_key(k.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    let removed = old
        .iter()
        .filter(|(k, _)| !new_map.contains_key(k.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old_map.get(k.as_str()).is_some_and(|o| *o != v))
        .map(|(k, _)| k.clone())
        .collect();
    (added, removed, changed)
}
