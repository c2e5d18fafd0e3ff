//! The embedded store: one SQLite file in WAL mode. [`Store::commit`] runs
//! with `synchronous=FULL`, so a committed batch survives power loss when it
//! returns. [`Store::commit_unsynced`] runs with `synchronous=NORMAL` (SQLite
//! writes the batch's WAL frames but does not flush them) and returns a
//! [`Syncer`] that flushes the WAL file: the same `fdatasync` that FULL
//! would have made inside the commit, moved to where the writer can overlap
//! it with the next batch. A batch is written with multi-row INSERTs
//! through cached statements. The part of the query index derived from the
//! entries trails them (`trailing.rs`); queries read what it has not reached.
//!
//! Opening never silently empties a database: an existing zero-length file,
//! a file that is not SQLite, or one failing `PRAGMA quick_check` is an
//! error naming the path.

use std::path::{Path, PathBuf};

use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, ToSql};

mod tail;

use super::checkpointer::Checkpointer;
use super::sql::{self, from_db, to_db, Param, Types};
use super::trailing::{IndexLag, IndexRow, Waiting};
use super::{
    is_stored, Batch, CheckpointRow, Filter, Hit, LogInfo, LogState, Store, StoreError, Syncer,
};
use crate::entry::Entry;
use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;
use tail::insert_index;

const TYPES: Types = Types {
    int: "INTEGER",
    serial: "INTEGER PRIMARY KEY",
    blob: "BLOB",
    real: "REAL",
    without_rowid: " WITHOUT ROWID",
    text_c: "TEXT",
};

/// A SQLite audit store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// Started by the first commit; stopped (and joined) on drop.
    checkpointer: Option<Checkpointer>,
    /// The connection's `synchronous` setting: FULL (true) or NORMAL.
    full_sync: bool,
    /// The WAL file, opened by the first unsynced commit, for its syncers.
    wal: Option<Syncer>,
    /// Index rows of committed entries not yet written (see `trailing.rs`).
    waiting: Waiting,
    /// Whether this connection has committed: only then does it write the
    /// index rows it holds (a reader that found a tail leaves it to the
    /// writer, which would otherwise be given rows it is also writing).
    committed: bool,
}

impl SqliteStore {
    /// Opens (creating if absent) the database at `path` and its audit tables.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() == 0 {
                return Err(StoreError::Corrupt {
                    path: shown,
                    message: "the file is empty (truncated); refusing to start a new log over it"
                        .to_owned(),
                });
            }
        }
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: shown.clone(),
            message: e.to_string(),
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: shown.clone(),
            message: e.to_string(),
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // Room for the multi-row INSERTs of every table at every chunk size.
        conn.set_prepared_statement_cache_capacity(64);
        // Tuning for the group-commit writer (none of it weakens durability:
        // every commit still fsyncs the WAL). 8 KiB pages hold a whole ~1.3 KB
        // entry row without an overflow page (4 KiB pages spill it) while
        // keeping the pages every commit rewrites at each B-tree's insertion
        // point small; it only takes effect when the file is created. The
        // first commit hands checkpoints to a background thread; until then
        // (or if it cannot start) a larger auto-checkpoint threshold (32 MiB
        // of WAL instead of 8 MiB) lets one checkpoint copy a page once for
        // many commits that rewrote it.
        conn.execute_batch(
            "PRAGMA page_size=8192; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4000;",
        )
        .map_err(corrupt)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(corrupt)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: shown,
                message: format!("cannot switch to WAL mode (got `{mode}`)"),
            });
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(corrupt)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: shown,
                message: check,
            });
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if version > sql::SCHEMA_VERSION {
            return Err(StoreError::Open {
                path: shown,
                message: format!(
                    "its schema version {version} is newer than this build of Ward knows ({})",
                    sql::SCHEMA_VERSION
                ),
            });
        }
        if version < sql::SCHEMA_VERSION {
            install_schema(&conn).map_err(corrupt)?;
        }
        let mut store = SqliteStore {
            conn,
            path: path.to_owned(),
            checkpointer: None,
            full_sync: true,
            wal: None,
            waiting: Waiting::new(IndexLag::DEFAULT),
            committed: false,
        };
        // Entries a lost process committed but had not indexed: the first
        // commit through this store writes their rows. An entry that does
        // not parse is not indexed (nor any after it, so that the index
        // stays a prefix); `ward audit check` names it.
        let mut rows = Vec::new();
        for tail in store.tails(tail::Logs::All)? {
            for (idx, bytes) in store.tail_entries(&tail)? {
                let Ok(entry) = Entry::parse(&bytes) else {
                    break;
                };
                rows.push(IndexRow::of_facets(tail.log, idx, entry.facets()));
            }
        }
        store.waiting.found(rows);
        Ok(store)
    }

    /// How far the query index may trail the log ([`IndexLag::DEFAULT`]
    /// unless set). Queries see every entry either way.
    pub fn set_index_lag(&mut self, lag: IndexLag) {
        self.waiting.lag = lag;
    }

    /// Writes the index rows still waiting, in a transaction of their own.
    fn write_waiting(&mut self) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert_index(&tx, self.waiting.rows.iter())?;
        tx.commit()?;
        self.waiting.written();
        Ok(())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + 'static {
        let path = self.path.display().to_string();
        move |e| {
            let path = path.clone();
            match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                    StoreError::Corrupt {
                        path,
                        message: e.to_string(),
                    }
                }
                _ => StoreError::Database {
                    path,
                    message: e.to_string(),
                },
            }
        }
    }

    fn set_full_sync(&mut self, full: bool) -> Result<(), StoreError> {
        if self.full_sync != full {
            let mode = if full { "FULL" } else { "NORMAL" };
            self.conn
                .execute_batch(&format!("PRAGMA synchronous={mode}"))
                .map_err(self.err())?;
            self.full_sync = full;
        }
        Ok(())
    }

    fn commit_synced_or_not(&mut self, batch: &Batch) -> Result<(), StoreError> {
        if self.checkpointer.is_none() {
            self.checkpointer = Checkpointer::start(&self.path, "ward-audit-checkpoint");
            if self.checkpointer.is_some() {
                // From now on the checkpointer thread checkpoints, not commits.
                self.conn
                    .execute_batch("PRAGMA wal_autocheckpoint=0")
                    .map_err(self.err())?;
            }
        }
        self.commit_inner(batch).map_err(self.err())?;
        if let Some(c) = &self.checkpointer {
            c.committed(&self.conn);
        }
        Ok(())
    }

    fn commit_inner(&mut self, batch: &Batch) -> rusqlite::Result<()> {
        // IMMEDIATE takes the write lock up front, waiting in the busy
        // handler if another connection holds it, rather than starting as a
        // reader and failing (SQLITE_BUSY, no retry) when the first INSERT
        // tries to upgrade.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut fresh = Vec::new();
        for log in &batch.logs {
            if let Some(info) = &log.create {
                tx.prepare_cached(
                    "INSERT INTO audit_logs (origin, tenant, key_name, verifier_key) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![info.origin, info.tenant, info.key_name, info.verifier_key])?;
            }
            let log_id: i64 = tx
                .prepare_cached("SELECT id FROM audit_logs WHERE origin = ?1")?
                .query_row([&log.origin], |r| r.get(0))?;
            let id: &dyn ToSql = &log_id;
            let idx: Vec<i64> = log.entries.iter().map(|e| to_db(e.index)).collect();
            let n = log.entries.len();
            let mut entries: Vec<&dyn ToSql> = Vec::with_capacity(n * 3);
            let mut payloads: Vec<&dyn ToSql> = Vec::with_capacity(n * 3);
            let mut args: Vec<&dyn ToSql> = Vec::new();
            let arg_values: Vec<Vec<(Option<f64>, Option<&str>)>> = log
                .entries
                .iter()
                .map(|e| e.args.iter().map(|(_, value)| value.columns()).collect())
                .collect();
            for ((e, idx), e_args) in log.entries.iter().zip(&idx).zip(&arg_values) {
                entries.extend_from_slice(&[id, idx, &e.bytes]);
                if let Some(p) = &e.payload {
                    payloads.extend_from_slice(&[id, idx, p]);
                }
                for ((path, _), (num, text)) in e.args.iter().zip(e_args) {
                    args.extend_from_slice(&[id, idx, path, num, text]);
                }
            }
            fresh.extend(
                log.entries
                    .iter()
                    .zip(&idx)
                    .map(|(e, &i)| IndexRow::of_row(log_id, i, e)),
            );
            insert_rows(
                &tx,
                "INSERT OR ROLLBACK INTO audit_entries (log, idx, entry) VALUES ",
                3,
                &entries,
            )?;
            insert_rows(
                &tx,
                "INSERT OR ROLLBACK INTO audit_payloads (log, idx, payload) VALUES ",
                3,
                &payloads,
            )?;
            insert_rows(
                &tx,
                "INSERT OR ROLLBACK INTO audit_args (log, idx, path, num, text) VALUES ",
                5,
                &args,
            )?;
            let node_ids: Vec<(u8, i64)> = log
                .nodes
                .iter()
                .map(|(node, _)| (node.level, to_db(node.index)))
                .collect();
            let mut nodes: Vec<&dyn ToSql> = Vec::with_capacity(log.nodes.len() * 4);
            for ((level, index), (node, hash)) in node_ids.iter().zip(&log.nodes) {
                if is_stored(*node) {
                    nodes.extend_from_slice(&[id, level, index, hash]);
                }
            }
            insert_rows(
                &tx,
                "INSERT OR ROLLBACK INTO audit_nodes (log, level, idx, hash) VALUES ",
                4,
                &nodes,
            )?;
            let mut cp = tx.prepare_cached(
                "INSERT INTO audit_checkpoints (log, seq, size, note, is_final) \
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM audit_checkpoints WHERE log = ?1",
            )?;
            for c in &log.checkpoints {
                cp.execute(params![id, to_db(c.size), c.note, i64::from(c.is_final)])?;
            }
        }
        let index_now = self.waiting.due(fresh.len());
        if index_now {
            insert_index(&tx, self.waiting.rows.iter().chain(&fresh))?;
        }
        tx.commit()?;
        self.committed = true;
        if index_now {
            self.waiting.written();
        } else {
            self.waiting.keep(fresh);
        }
        Ok(())
    }
}

/// Creates the tables of a new database, or brings an older one to the
/// current schema, in one transaction.
fn install_schema(conn: &Connection) -> rusqlite::Result<()> {
    // Version 1 did not set user_version: its `audit_entries` is keyed by
    // the origin string.
    let v1: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('audit_entries') WHERE name = 'origin')",
        [],
        |r| r.get(0),
    )?;
    let mut script = String::from("BEGIN IMMEDIATE;\n");
    let statements = if v1 {
        sql::migrate_v1(&TYPES, None)
    } else {
        sql::schema(&TYPES)
    };
    for stmt in statements {
        script.push_str(&stmt);
        script.push_str(";\n");
    }
    script.push_str(&format!(
        "PRAGMA user_version = {};\nCOMMIT;",
        sql::SCHEMA_VERSION
    ));
    conn.execute_batch(&script).inspect_err(|_| {
        // Leave the file as it was if any statement failed.
        let _ = conn.execute_batch("ROLLBACK");
    })
}

/// Rows per multi-row INSERT, largest first. A batch of n rows takes at most
/// a handful of statements, each prepared once and cached; fewer statement
/// executions is most of what SQLite spends per row after the B-tree work.
const ROWS_PER_INSERT: [usize; 4] = [64, 16, 4, 1];

/// The text of `head` followed by `rows` groups of `cols` placeholders.
fn multi_row_sql(head: &str, cols: usize, rows: usize) -> String {
    let mut group = String::with_capacity(cols * 2 + 2);
    group.push('(');
    for c in 0..cols {
        group.push_str(if c == 0 { "?" } else { ",?" });
    }
    group.push(')');
    let mut sql = String::with_capacity(head.len() + rows * (group.len() + 1));
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&group);
    }
    sql
}

/// Inserts `values` (rows of `cols` values, row after row) with as few
/// statements as [`ROWS_PER_INSERT`] allows. `head` says `INSERT OR
/// ROLLBACK`: a conflict fails the whole batch anyway, and without the
/// default `ABORT` a multi-row statement needs no statement journal (which
/// SQLite otherwise writes, and spills to a temporary file, for every page
/// the statement touches).
fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    head: &str,
    cols: usize,
    values: &[&dyn ToSql],
) -> rusqlite::Result<()> {
    let mut rest = values;
    while rest.len() >= cols.max(1) {
        let rows_left = rest.len() / cols.max(1);
        let rows = ROWS_PER_INSERT
            .into_iter()
            .find(|&r| r <= rows_left)
            .unwrap_or(1);
        let Some((chunk, tail)) = rest.split_at_checked(rows * cols) else {
            break;
        };
        tx.prepare_cached(&multi_row_sql(head, cols, rows))?
            .execute(params_from_iter(chunk))?;
        rest = tail;
    }
    Ok(())
}

fn bind(params: &[Param]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => rusqlite::types::Value::Text(s.clone()),
            Param::Int(i) => rusqlite::types::Value::Integer(*i),
            Param::Real(r) => rusqlite::types::Value::Real(*r),
        })
        .collect()
}

impl Store for SqliteStore {
    fn logs(&mut self) -> Result<Vec<LogState>, StoreError> {
        let err = self.err();
        let mut stmt = self.conn.prepare(sql::LOGS_QUERY).map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LogState {
                    info: LogInfo {
                        origin: r.get(0)?,
                        tenant: r.get(1)?,
                        key_name: r.get(2)?,
                        verifier_key: r.get(3)?,
                    },
                    size: from_db(r.get(4)?),
                    closed: r.get(5)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }

    fn stored_nodes(&mut self, origin: &str, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT hash FROM audit_nodes WHERE log = {} AND level = ?2 AND idx = ?3",
                sql::log_id("?1")
            ))
            .map_err(&err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let blob: Option<Vec<u8>> = stmt
                .query_row(params![origin, id.level, to_db(id.index)], |r| r.get(0))
                .optional()
                .map_err(&err)?;
            let hash = blob.and_then(|b| Hash::try_from(b.as_slice()).ok()).ok_or(
                StoreError::MissingNode {
                    origin: origin.to_owned(),
                    level: id.level,
                    index: id.index,
                },
            )?;
            out.push(hash);
        }
        Ok(out)
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.set_full_sync(true)?;
        self.commit_synced_or_not(batch)
    }

    fn commit_unsynced(&mut self, batch: &Batch) -> Result<Option<Syncer>, StoreError> {
        self.set_full_sync(false)?;
        self.commit_synced_or_not(batch)?;
        if self.wal.is_none() {
            // The WAL exists from the first commit on and lives as long as
            // the connections: SQLite restarts it in place, never replaces it.
            let wal_path = format!("{}-wal", self.path.display());
            let file = std::fs::File::open(&wal_path).map_err(|e| StoreError::Database {
                path: wal_path.clone(),
                message: format!("cannot open the write-ahead log: {e}"),
            })?;
            self.wal = Some(Syncer::new(file, wal_path));
        }
        Ok(self.wal.clone())
    }

    fn entries(&mut self, origin: &str, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT entry FROM audit_entries WHERE log = {} AND idx >= ?2 AND idx < ?3 ORDER BY idx",
                sql::log_id("?1")
            ))
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![origin, to_db(start), to_db(end)], |r| r.get(0))
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }

    fn checkpoints(&mut self, origin: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let err = self.err();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT size, note, is_final FROM audit_checkpoints WHERE log = {} ORDER BY seq",
                sql::log_id("?1")
            ))
            .map_err(&err)?;
        let rows = stmt
            .query_map([origin], |r| {
                Ok(CheckpointRow {
                    size: from_db(r.get(0)?),
                    note: r.get(1)?,
                    is_final: r.get(2)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }

    fn payload(&mut self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let err = self.err();
        self.conn
            .prepare_cached(&format!(
                "SELECT payload FROM audit_payloads WHERE log = {} AND idx = ?2",
                sql::log_id("?1")
            ))
            .and_then(|mut s| {
                s.query_row(params![origin, to_db(index)], |r| r.get(0))
                    .optional()
            })
            .map_err(&err)
    }

    fn forget_payload(&mut self, origin: &str, index: u64) -> Result<bool, StoreError> {
        let err = self.err();
        let tx = self.conn.transaction().map_err(&err)?;
        let n = tx
            .execute(
                &format!(
                    "DELETE FROM audit_payloads WHERE log = {} AND idx = ?2",
                    sql::log_id("?1")
                ),
                params![origin, to_db(index)],
            )
            .map_err(&err)?;
        tx.execute(
            &format!(
                "DELETE FROM audit_args WHERE log = {} AND idx = ?2",
                sql::log_id("?1")
            ),
            params![origin, to_db(index)],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(n > 0)
    }

    fn query(&mut self, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        self.in_snapshot(|s| s.query_now(filter))
    }

    fn time_bounds(
        &mut self,
        origin: &str,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        self.in_snapshot(|s| s.time_bounds_now(origin, from, until))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Best effort: rows left unwritten are written by the next store
        // to commit, and queries read them from the entries until then.
        if self.committed && !self.waiting.rows.is_empty() {
            let _ = self.write_waiting();
        }
    }
}
