//! The SQLite store's query index, written behind the log.
//!
//! The facets (with their time index) and the rule rows of an entry are
//! derived from the entry's own bytes, so they need not be durable when its
//! receipt is. Writing them with every commit dirtied three more B-tree
//! leaves per commit, each an 8 KiB WAL frame to write, flush and later
//! checkpoint, for rows of a few dozen bytes. The store keeps them in memory
//! instead and writes them with a later commit, many entries at a time, once
//! [`IndexLag::entries`] have gathered or the oldest has waited [`IndexLag::delay`].
//!
//! Queries are never behind: the index covers a prefix `[0, mark)` of each
//! log (`mark` is one past the highest indexed entry), and a query reads the
//! rest (the *tail*) from the entries themselves and matches it here. After
//! a crash, the tail is whatever the lost process had not yet indexed; the
//! next store to commit writes it. Indexed arguments and payloads are not
//! derivable from the entry alone (and may be deleted), so they are still
//! written with every commit.

use std::time::{Duration, Instant};

use super::{ArgFilter, ArgOp, ArgValue, EntryRow, Filter};
use crate::entry::Facets;

/// How far the index may trail the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLag {
    /// Entries waiting that make the next commit write them.
    pub entries: usize,
    /// The longest an entry waits before a commit writes it.
    pub delay: Duration,
}

impl IndexLag {
    /// The default: 128 entries or 100 ms. At 1,000 entries/s that writes
    /// the index once per about a hundred commits.
    pub const DEFAULT: IndexLag = IndexLag {
        entries: 128,
        delay: Duration::from_millis(100),
    };

    /// Every commit writes the index of its own entries.
    pub const NONE: IndexLag = IndexLag {
        entries: 0,
        delay: Duration::ZERO,
    };
}

/// The index rows of one entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexRow {
    pub(crate) log: i64,
    pub(crate) idx: i64,
    pub(crate) kind: String,
    pub(crate) time: String,
    pub(crate) tool: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) principal: Option<String>,
    pub(crate) agent: Option<String>,
    pub(crate) decision_id: Option<String>,
    /// Sorted, without repeats (they are a primary key).
    pub(crate) rules: Vec<String>,
}

impl IndexRow {
    pub(crate) fn of_row(log: i64, idx: i64, e: &EntryRow) -> IndexRow {
        IndexRow {
            log,
            idx,
            kind: e.kind.clone(),
            time: e.time.clone(),
            tool: e.tool.clone(),
            outcome: e.outcome.clone(),
            principal: e.principal.clone(),
            agent: e.agent.clone(),
            decision_id: e.decision_id.clone(),
            rules: sorted(e.rules.clone()),
        }
    }

    pub(crate) fn of_facets(log: i64, idx: i64, f: Facets) -> IndexRow {
        IndexRow {
            log,
            idx,
            kind: f.kind.to_owned(),
            time: f.time,
            tool: f.tool,
            outcome: f.outcome.map(str::to_owned),
            principal: f.principal,
            agent: f.agent,
            decision_id: f.decision_id,
            rules: sorted(f.rules),
        }
    }
}

fn sorted(mut rules: Vec<String>) -> Vec<String> {
    rules.sort();
    rules.dedup();
    rules
}

/// Index rows of committed entries, not yet written.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) lag: IndexLag,
    pub(crate) rows: Vec<IndexRow>,
    since: Option<Instant>,
    /// Rows found unindexed when the store opened: they have waited since
    /// the process that committed them stopped.
    overdue: bool,
}

impl Waiting {
    pub(crate) fn new(lag: IndexLag) -> Waiting {
        Waiting {
            lag,
            rows: Vec::new(),
            since: None,
            overdue: false,
        }
    }

    /// Whether a commit adding `fresh` entries should write everything.
    pub(crate) fn due(&self, fresh: usize) -> bool {
        let waited = self.since.map_or(Duration::ZERO, |t| t.elapsed());
        self.overdue
            || self.rows.len().saturating_add(fresh) >= self.lag.entries.max(1)
            || waited >= self.lag.delay
    }

    /// Rows of entries found unindexed: the next commit writes them.
    pub(crate) fn found(&mut self, rows: Vec<IndexRow>) {
        self.overdue |= !rows.is_empty();
        self.keep(rows);
    }

    /// After a commit that did not write the index: its rows wait.
    pub(crate) fn keep(&mut self, fresh: Vec<IndexRow>) {
        if fresh.is_empty() {
            return;
        }
        self.since.get_or_insert_with(Instant::now);
        self.rows.extend(fresh);
    }

    /// After a commit that wrote every waiting row.
    pub(crate) fn written(&mut self) {
        self.rows.clear();
        self.since = None;
        self.overdue = false;
    }
}

/// Whether an entry of the tail matches the filter's conditions on facets
/// (time, kind, tool, outcome, principal, agent, rule), compared as SQL
/// compares the indexed columns: text by bytes, a missing value never equal.
pub(crate) fn facets_match(f: &Facets, filter: &Filter) -> bool {
    let time = f.time.as_str();
    filter.from.is_none_or(|t| time >= t.to_string().as_str())
        && filter.until.is_none_or(|t| time < t.to_string().as_str())
        && filter.kind.as_deref().is_none_or(|k| f.kind == k)
        && same(filter.tool.as_deref(), f.tool.as_deref())
        && same(filter.outcome.as_deref(), f.outcome)
        && same(filter.principal.as_deref(), f.principal.as_deref())
        && same(filter.agent.as_deref(), f.agent.as_deref())
        && filter
            .rule
            .as_deref()
            .is_none_or(|r| f.rules.iter().any(|x| x == r))
}

fn same(wanted: Option<&str>, got: Option<&str>) -> bool {
    wanted.is_none_or(|w| got == Some(w))
}

/// Whether every argument condition holds among an entry's indexed
/// arguments, as the SQL query's `EXISTS` on the argument table decides:
/// a number compares with numbers, text with text, and a value of the
/// other type (or no value at the path) does not match.
pub(crate) fn args_match(stored: &[(String, ArgValue)], conditions: &[ArgFilter]) -> bool {
    conditions.iter().all(|c| {
        stored
            .iter()
            .any(|(path, value)| *path == c.path && compare(value, c.op, &c.value))
    })
}

fn compare(stored: &ArgValue, op: ArgOp, wanted: &ArgValue) -> bool {
    let order = match (stored, wanted) {
        (ArgValue::Number(a), ArgValue::Number(b)) => a.partial_cmp(b),
        (ArgValue::Text(a), ArgValue::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    };
    let Some(order) = order else {
        return false;
    };
    match op {
        ArgOp::Eq => order.is_eq(),
        ArgOp::Ne => order.is_ne(),
        ArgOp::Lt => order.is_lt(),
        ArgOp::Le => order.is_le(),
        ArgOp::Gt => order.is_gt(),
        ArgOp::Ge => order.is_ge(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn arguments_compare_as_the_sql_query_compares_them() {
        let stored = vec![
            ("amount".to_owned(), ArgValue::Number(750.0)),
            ("currency".to_owned(), ArgValue::Text("USD".into())),
        ];
        let holds = |text: &str| args_match(&stored, &[text.parse().unwrap()]);
        for yes in [
            "amount>500",
            "amount>=750",
            "amount=750",
            "amount!=10",
            "currency=USD",
            "currency<ZZZ",
        ] {
            assert!(holds(yes), "{yes}");
        }
        // A missing path, or a value of the other type, never matches, not
        // even `!=` (SQL's NULL).
        for no in [
            "amount<500",
            "amount=USD",
            "amount!=USD",
            "currency!=5",
            "note=x",
            "currency=usd",
        ] {
            assert!(!holds(no), "{no}");
        }
        assert!(args_match(&stored, &[]));
    }

    #[test]
    fn a_commit_writes_the_index_once_enough_waited_or_for_long_enough() {
        let lag = IndexLag {
            entries: 3,
            delay: Duration::from_secs(3600),
        };
        let mut w = Waiting::new(lag);
        assert!(!w.due(2));
        w.keep(vec![row(0), row(1)]);
        assert!(w.due(1));
        assert!(!w.due(0));
        w.written();
        assert!(w.rows.is_empty());
        let mut now = Waiting::new(IndexLag::NONE);
        assert!(now.due(1));
        now.keep(vec![row(0)]);
        assert!(now.due(0));
        let mut found = Waiting::new(lag);
        found.found(vec![row(0)]);
        assert!(found.due(0), "found at open: written by the first commit");
        found.written();
        assert!(!found.due(1));
    }

    fn row(idx: i64) -> IndexRow {
        IndexRow::of_facets(1, idx, Facets::default())
    }
}
