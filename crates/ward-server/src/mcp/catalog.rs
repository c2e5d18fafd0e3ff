//! The aggregated tool list: every upstream's tools under the names the
//! client sees, with their pin state, and the cursors that page it.
//!
//! A name two upstreams share is prefixed with each server's prefix
//! (`fs__read_file`, `backup__read_file`); with `prefix: always` every name
//! is. A name that would still be offered twice is offered by neither (the
//! gateway never guesses which server a call was meant for). The bundle's
//! closed catalog names tools by these exposed names.

use std::collections::{BTreeMap, HashMap};

use rmcp::model::Tool;

use super::config::PrefixMode;

/// One tool as the client sees it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The name the client and the bundle use.
    pub(crate) exposed: String,
    /// The upstream (index into the gateway's links).
    pub(crate) upstream: usize,
    /// The tool's name on that upstream.
    pub(crate) original: String,
    /// The tool as the upstream describes it, renamed to `exposed`.
    pub(crate) tool: Tool,
    /// Whether its contract matches its pin; a changed tool is disabled.
    pub(crate) enabled: bool,
}

/// One upstream's current tools, each with whether its pin holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listed {
    pub(crate) prefix: String,
    pub(crate) tools: Vec<(Tool, bool)>,
}

/// The whole list, rebuilt whenever an upstream's tools change.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Bumped on every rebuild; cursors carry it.
    pub(crate) generation: u64,
    pub(crate) entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    /// Exposed names dropped because two tools would share them.
    pub(crate) ambiguous: Vec<String>,
}

impl Catalog {
    /// Builds the list from each upstream's tools, in upstream order and
    /// then each upstream's own order.
    pub(crate) fn build(
        generation: u64,
        upstreams: &[Option<Listed>],
        mode: PrefixMode,
        separator: &str,
    ) -> Catalog {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for listed in upstreams.iter().flatten() {
            for (tool, _) in &listed.tools {
                *count.entry(tool.name.as_ref()).or_default() += 1;
            }
        }
        let mut candidates: Vec<Entry> = Vec::new();
        for (upstream, listed) in upstreams.iter().enumerate() {
            let Some(listed) = listed else { continue };
            for (tool, enabled) in &listed.tools {
                let original = tool.name.to_string();
                let clash = count.get(original.as_str()).copied().unwrap_or(0) > 1;
                let exposed = if clash || mode == PrefixMode::Always {
                    format!("{}{separator}{original}", listed.prefix)
                } else {
                    original.clone()
                };
                let mut shown = tool.clone();
                shown.name = exposed.clone().into();
                candidates.push(Entry {
                    exposed,
                    upstream,
                    original,
                    tool: shown,
                    enabled: *enabled,
                });
            }
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for e in &candidates {
            *seen.entry(e.exposed.clone()).or_default() += 1;
        }
        let ambiguous: Vec<String> = seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(name, _)| name.clone())
            .collect();
        let entries: Vec<Entry> = candidates
            .into_iter()
            .filter(|e| !ambiguous.contains(&e.exposed))
            .collect();
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.exposed.clone(), i))
            .collect();
        Catalog {
            generation,
            entries,
            by_name,
            ambiguous,
        }
    }

    /// The tool the client calls `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Exposed names and whether each is enabled, to tell whether a rebuild
    /// changed what clients see.
    pub(crate) fn shape(&self) -> Vec<(String, bool, String)> {
        self.entries
            .iter()
            .map(|e| {
                let contract =
                    super::pins::fingerprint(&super::pins::contract(&e.tool)).unwrap_or_default();
                (e.exposed.clone(), e.enabled, contract)
            })
            .collect()
    }
}

/// A `tools/list` page position: the catalog generation and policy it was
/// made under, and the offset in that identity's filtered list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) generation: u64,
    pub(crate) policy: String,
    pub(crate) offset: usize,
}

impl Cursor {
    /// The opaque text a client gets back as `nextCursor`.
    pub(crate) fn encode(&self) -> String {
        format!("w1.{}.{}.{}", self.generation, self.policy, self.offset)
    }

    /// Reads a cursor; `None` for anything this gateway did not write.
    pub(crate) fn decode(text: &str) -> Option<Cursor> {
        let mut parts = text.split('.');
        if parts.next()? != "w1" {
            return None;
        }
        let generation = parts.next()?.parse().ok()?;
        let policy = parts.next()?.to_owned();
        let offset = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !policy.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Cursor {
            generation,
            policy,
            offset,
        })
    }
}

/// A short form of a policy digest, for cursors.
pub(crate) fn policy_tag(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new_with_raw(name.to_owned(), None, serde_json::Map::new())
    }

    fn listed(prefix: &str, names: &[&str]) -> Option<Listed> {
        Some(Listed {
            prefix: prefix.into(),
            tools: names.iter().map(|n| (tool(n), true)).collect(),
        })
    }

    #[test]
    fn clashing_names_are_prefixed_others_are_not() {
        let c = Catalog::build(
            1,
            &[
                listed("fs", &["read_file", "write_file"]),
                listed("mem", &["read_file", "read_graph"]),
                None,
            ],
            PrefixMode::Clash,
            "__",
        );
        let names: Vec<&str> = c.entries.iter().map(|e| e.exposed.as_str()).collect();
        assert_eq!(
            names,
            [
                "fs__read_file",
                "write_file",
                "mem__read_file",
                "read_graph"
            ]
        );
        let e = c.get("mem__read_file").unwrap();
        assert_eq!((e.upstream, e.original.as_str()), (1, "read_file"));
        assert_eq!(e.tool.name, "mem__read_file");
        assert!(c.get("read_file").is_none());
    }

    #[test]
    fn always_prefixes_and_a_name_still_shared_is_dropped() {
        let c = Catalog::build(
            1,
            &[listed("a", &["x"]), listed("b", &["x"])],
            PrefixMode::Always,
            "__",
        );
        assert_eq!(c.entries.len(), 2);
        let c = Catalog::build(
            1,
            &[
                listed("a", &["b__x"]),
                listed("b", &["x", "y"]),
                listed("c", &["x"]),
            ],
            PrefixMode::Clash,
            "__",
        );
        assert_eq!(c.ambiguous, ["b__x"]);
        assert!(c.get("b__x").is_none());
        assert!(c.get("c__x").is_some());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cur = Cursor {
            generation: 7,
            policy: "ab12".into(),
            offset: 100,
        };
        assert_eq!(Cursor::decode(&cur.encode()), Some(cur));
        for bad in [
            "",
            "w1",
            "w1.x.ab.1",
            "w1.1.zz.1",
            "w2.1.ab.1",
            "w1.1.ab.1.2",
            "w1.1.ab.-1",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
