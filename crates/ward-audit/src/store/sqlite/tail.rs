//! The SQLite store's side of the trailing query index (`../trailing.rs`):
//! finding the tail of each log, reading it for queries, and writing index
//! rows.

use rusqlite::{params, params_from_iter, ToSql};

use super::{bind, insert_rows, SqliteStore};
use crate::entry::Entry;
use crate::store::sql::{self, from_db};
use crate::store::trailing::{self, IndexRow};
use crate::store::{ArgValue, Filter, Hit, StoreError};
use crate::time::Timestamp;

/// Inserts the facets and rule rows of `rows`. `OR IGNORE`: a row already
/// there (derived from the same entry) is the same row.
pub(super) fn insert_index<'r>(
    tx: &rusqlite::Transaction<'_>,
    rows: impl Iterator<Item = &'r IndexRow>,
) -> rusqlite::Result<()> {
    let mut facets: Vec<&dyn ToSql> = Vec::new();
    let mut rules: Vec<&dyn ToSql> = Vec::new();
    for r in rows {
        facets.extend_from_slice(&[
            &r.log,
            &r.idx,
            &r.kind,
            &r.time,
            &r.tool,
            &r.outcome,
            &r.principal,
            &r.agent,
            &r.decision_id,
        ]);
        for rule in &r.rules {
            rules.extend_from_slice(&[&r.log, &r.idx, rule]);
        }
    }
    insert_rows(
        tx,
        "INSERT OR IGNORE INTO audit_facets (log, idx, kind, time, tool, outcome, principal, \
         agent, decision_id) VALUES ",
        9,
        &facets,
    )?;
    insert_rows(
        tx,
        "INSERT OR IGNORE INTO audit_rules (log, idx, rule) VALUES ",
        3,
        &rules,
    )
}

/// Which logs [`SqliteStore::tails`] looks at.
#[derive(Clone, Copy)]
pub(super) enum Logs<'a> {
    All,
    OfTenant(&'a str),
    Origin(&'a str),
}

/// A log whose newest entries, `[mark, size)`, are not yet indexed.
pub(super) struct Tail {
    pub(super) log: i64,
    origin: String,
    mark: i64,
    size: i64,
}

impl Tail {
    fn parse(&self, idx: i64, bytes: &[u8]) -> Result<Entry, StoreError> {
        Entry::parse(bytes).map_err(|e| StoreError::Corrupt {
            path: self.origin.clone(),
            message: format!("entry {idx} does not parse: {e}"),
        })
    }
}

impl SqliteStore {
    /// The logs (`which`) whose newest entries are not yet in the query
    /// index. Only the logs asked for are measured: each costs two lookups,
    /// and a store holds a log per tenant.
    pub(super) fn tails(&self, which: Logs<'_>) -> Result<Vec<Tail>, StoreError> {
        let err = self.err();
        let (filter, value) = match which {
            Logs::All => ("", None),
            Logs::OfTenant(tenant) => ("WHERE l.tenant = ?1", Some(tenant)),
            Logs::Origin(origin) => ("WHERE l.origin = ?1", Some(origin)),
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT l.id, l.origin, \
                 (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_facets f WHERE f.log = l.id), \
                 (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries e WHERE e.log = l.id) \
                 FROM audit_logs l {filter} ORDER BY l.origin"
            ))
            .map_err(&err)?;
        let tail = |r: &rusqlite::Row<'_>| {
            Ok(Tail {
                log: r.get(0)?,
                origin: r.get(1)?,
                mark: r.get(2)?,
                size: r.get(3)?,
            })
        };
        let rows = match value {
            Some(v) => stmt.query_map([v], tail),
            None => stmt.query_map([], tail),
        }
        .map_err(&err)?;
        let all = rows.collect::<Result<Vec<Tail>, _>>().map_err(&err)?;
        Ok(all.into_iter().filter(|t| t.mark < t.size).collect())
    }

    /// The entries of a tail, with their index.
    pub(super) fn tail_entries(&self, tail: &Tail) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, entry FROM audit_entries WHERE log = ?1 AND idx >= ?2 ORDER BY idx",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![tail.log, tail.mark], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }

    /// The indexed arguments of one entry.
    pub(super) fn entry_args(
        &self,
        log: i64,
        idx: i64,
    ) -> Result<Vec<(String, ArgValue)>, StoreError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, num, text FROM audit_args WHERE log = ?1 AND idx = ?2")
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![log, idx], |r| {
                let path: String = r.get(0)?;
                let num: Option<f64> = r.get(1)?;
                let text: Option<String> = r.get(2)?;
                Ok((path, num, text))
            })
            .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let (path, num, text) = row.map_err(&err)?;
            match (num, text) {
                (Some(n), _) => out.push((path, ArgValue::Number(n))),
                (None, Some(t)) => out.push((path, ArgValue::Text(t))),
                (None, None) => {}
            }
        }
        Ok(out)
    }

    /// Runs `f` in one read transaction: the index and the tail it reads
    /// are of one moment, so an index write landing in between can neither
    /// hide entries nor show them twice.
    pub(super) fn in_snapshot<T>(
        &mut self,
        f: impl FnOnce(&mut SqliteStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(self.err())?;
        let out = f(self);
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        match (out, self.conn.execute_batch(end).map_err(self.err())) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }

    pub(super) fn query_now(&mut self, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        let err = self.err();
        let (text, params) = sql::build_query(filter, |n| format!("?{n}"));
        let mut hits = {
            let mut stmt = self.conn.prepare(&text).map_err(&err)?;
            let rows = stmt
                .query_map(params_from_iter(bind(&params)), |r| {
                    Ok(Hit {
                        origin: r.get(0)?,
                        index: from_db(r.get(1)?),
                        entry: r.get(2)?,
                    })
                })
                .map_err(&err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(&err)?
        };
        let tails = self.tails(Logs::OfTenant(&filter.tenant))?;
        if tails.is_empty() {
            return Ok(hits);
        }
        for tail in &tails {
            for (idx, bytes) in self.tail_entries(tail)? {
                if !trailing::facets_match(&tail.parse(idx, &bytes)?.facets(), filter) {
                    continue;
                }
                if !filter.args.is_empty()
                    && !trailing::args_match(&self.entry_args(tail.log, idx)?, &filter.args)
                {
                    continue;
                }
                hits.push(Hit {
                    origin: tail.origin.clone(),
                    index: from_db(idx),
                    entry: bytes,
                });
            }
        }
        // The index's hits of a log all come before its tail's.
        hits.sort_by(|a, b| (&a.origin, a.index).cmp(&(&b.origin, b.index)));
        if let Some(limit) = filter.limit {
            hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(hits)
    }

    pub(super) fn time_bounds_now(
        &mut self,
        origin: &str,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        let err = self.err();
        let (from_text, until_text) = (
            from.map(|t| t.to_string()).unwrap_or_default(),
            until.map(|t| t.to_string()),
        );
        let row: (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                &format!(
                    "SELECT MIN(idx), MAX(idx) FROM audit_facets WHERE log = {} \
                     AND time >= ?2 AND (?3 IS NULL OR time < ?3)",
                    sql::log_id("?1")
                ),
                params![origin, from_text, until_text],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&err)?;
        let (mut lo, mut hi) = row;
        let period = Filter {
            from,
            until,
            ..Filter::default()
        };
        for tail in &self.tails(Logs::Origin(origin))? {
            for (idx, bytes) in self.tail_entries(tail)? {
                if trailing::facets_match(&tail.parse(idx, &bytes)?.facets(), &period) {
                    lo = Some(lo.map_or(idx, |l| l.min(idx)));
                    hi = Some(hi.map_or(idx, |h| h.max(idx)));
                }
            }
        }
        Ok(lo.zip(hi).map(|(lo, hi)| (from_db(lo), from_db(hi))))
    }
}
