//! The embedded state store: one SQLite file in WAL mode. A write is
//! answered once it is flushed to disk, except an idempotency claim
//! (`group.rs` says why).
//!
//! Records are kept as JSON next to the columns they are looked up by, so
//! the schema stays small; the atomic operations (limit takes, idempotency
//! claims, approval votes) are single statements, or statements inside one
//! transaction. The writes a decision makes (approvals, limit takes, the
//! idempotency claim and answer) share commits with the writes of other
//! decisions made at the same moment (`group.rs`). Reads go through a
//! connection of their own, so a held call looking for its approval does
//! not wait behind another group's commit: in WAL mode a read sees every
//! commit that finished before it began.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::group::{Flush, Grouped};
use super::{BundleRecord, IdemClaim, LimitTake, StateError, StateStore};
use crate::approvals::ApprovalRecord;
use crate::identity::ApiKeyRecord;
use crate::registry::AgentRecord;
use crate::switches::{BreakGlass, Scope, Switch, SwitchKind};

const SCHEMA_VERSION: i64 = 2;

/// Version 1 kept an approval's request digest only inside its JSON body.
/// The column goes last, where `ALTER TABLE` puts it, so a migrated table
/// and a new one have the same shape.
const MIGRATE_V1: &str = "
ALTER TABLE approvals ADD COLUMN request_digest TEXT NOT NULL DEFAULT '';
UPDATE approvals SET request_digest = COALESCE(json_extract(body, '$.request_digest'), '');
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (id TEXT NOT NULL, version TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (id, version));
CREATE TABLE IF NOT EXISTS switches (kind TEXT NOT NULL, scope TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, scope));
CREATE TABLE IF NOT EXISTS break_glass (id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (tenant TEXT NOT NULL, key TEXT NOT NULL,
  request_digest TEXT NOT NULL, at_ms INTEGER NOT NULL, decision TEXT,
  PRIMARY KEY (tenant, key));
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at_ms);
CREATE TABLE IF NOT EXISTS limits (key TEXT NOT NULL, window_start INTEGER NOT NULL, used REAL NOT NULL,
  PRIMARY KEY (key, window_start));
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_ms INTEGER NOT NULL,
  body TEXT NOT NULL, request_digest TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS approvals_tenant ON approvals (tenant, created_ms);
CREATE INDEX IF NOT EXISTS approvals_call ON approvals (tenant, request_digest, created_ms);
CREATE TABLE IF NOT EXISTS bundles (digest TEXT PRIMARY KEY, uploaded_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS active_bundle (one INTEGER PRIMARY KEY CHECK (one = 1), digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL);
";

/// The SQLite state store.
#[derive(Debug)]
pub struct SqliteState {
    db: Grouped,
    /// For reads only (`query_only`).
    reader: Mutex<Connection>,
}

fn to_json(value: &impl Serialize) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(StateError::of)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|e| StateError(format!("corrupt record: {e}")))
}

impl SqliteState {
    /// Opens (creating if needed) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteState, StateError> {
        let conn = connect(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StateError::of)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(StateError::of)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(StateError::of)?;
        if !(0..=SCHEMA_VERSION).contains(&version) {
            return Err(StateError(format!(
                "{}: state schema version {version}, this build reads {SCHEMA_VERSION}",
                path.display()
            )));
        }
        // One transaction: an interrupted migration leaves version 1.
        let migrate = if version == 1 { MIGRATE_V1 } else { "" };
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{migrate}{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        ))
        .map_err(|e| {
            StateError(format!(
                "{}: cannot install the schema: {e}",
                path.display()
            ))
        })?;
        let reader = connect(path)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(StateError::of)?;
        Ok(SqliteState {
            db: Grouped::new(conn, path)?,
            reader: Mutex::new(reader),
        })
    }

    /// One statement, on the writer, outside any group.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StateError> {
        self.db
            .write_alone(|conn| conn.execute(sql, params).map_err(StateError::of))
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, StateError> {
        self.reader
            .lock()
            .map_err(|_| StateError("state reader poisoned".into()))
    }

    fn all<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StateError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(sql).map_err(StateError::of)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(StateError::of)?;
        rows.map(|r| from_json(&r.map_err(StateError::of)?))
            .collect()
    }
}

impl StateStore for SqliteState {
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StateError> {
        self.execute(
            "INSERT OR REPLACE INTO api_keys (id, body) VALUES (?1, ?2)",
            params![key.id, to_json(key)?],
        )?;
        Ok(())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StateError> {
        self.all("SELECT body FROM api_keys ORDER BY id")
    }

    fn put_agent(&self, agent: &AgentRecord) -> Result<(), StateError> {
        self.execute(
            "INSERT OR REPLACE INTO agents (id, version, body) VALUES (?1, ?2, ?3)",
            params![agent.id, agent.version, to_json(agent)?],
        )?;
        Ok(())
    }

    fn agents(&self) -> Result<Vec<AgentRecord>, StateError> {
        self.all("SELECT body FROM agents ORDER BY id, version")
    }

    fn put_switch(&self, switch: &Switch) -> Result<(), StateError> {
        self.execute(
            "INSERT OR REPLACE INTO switches (kind, scope, body) VALUES (?1, ?2, ?3)",
            params![switch.kind.as_str(), switch.scope.label(), to_json(switch)?],
        )?;
        Ok(())
    }

    fn clear_switch(&self, kind: SwitchKind, scope: &Scope) -> Result<bool, StateError> {
        let n = self.execute(
            "DELETE FROM switches WHERE kind = ?1 AND scope = ?2",
            params![kind.as_str(), scope.label()],
        )?;
        Ok(n > 0)
    }

    fn switches(&self) -> Result<Vec<Switch>, StateError> {
        self.all("SELECT body FROM switches ORDER BY kind, scope")
    }

    fn put_break_glass(&self, grant: &BreakGlass) -> Result<(), StateError> {
        self.execute(
            "INSERT OR REPLACE INTO break_glass (id, expires_ms, body) VALUES (?1, ?2, ?3)",
            params![grant.id, grant.expires_ms, to_json(grant)?],
        )?;
        Ok(())
    }

    fn break_glass(&self, now_ms: i64) -> Result<Vec<BreakGlass>, StateError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached("SELECT body FROM break_glass WHERE expires_ms > ?1 ORDER BY id")
            .map_err(StateError::of)?;
        let rows = stmt
            .query_map([now_ms], |r| r.get::<_, String>(0))
            .map_err(StateError::of)?;
        rows.map(|r| from_json(&r.map_err(StateError::of)?))
            .collect()
    }

    fn idem_claim(
        &self,
        tenant: &str,
        key: &str,
        request_digest: &str,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<IdemClaim, StateError> {
        let (tenant, key, request_digest) =
            (tenant.to_owned(), key.to_owned(), request_digest.to_owned());
        // A job of the group: its read and its write are in the group's
        // transaction, which holds the write lock throughout. Not flushed
        // before it is answered: a claim answers nobody, and the decision's
        // stored answer, which is flushed, makes it durable too (group.rs).
        self.db.write(Flush::Later, move |conn| {
            let seen: Option<(String, i64, Option<String>)> = row(
                conn,
                "SELECT request_digest, at_ms, decision FROM idempotency
                 WHERE tenant = ?1 AND key = ?2",
                params![tenant, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            match seen {
                Some((digest, at, decision)) if at >= expire_before_ms => Ok(IdemClaim::Seen {
                    request_digest: digest,
                    decision,
                }),
                _ => {
                    run(
                        conn,
                        "INSERT OR REPLACE INTO idempotency
                         (tenant, key, request_digest, at_ms, decision)
                         VALUES (?1, ?2, ?3, ?4, NULL)",
                        params![tenant, key, request_digest, now_ms],
                    )?;
                    Ok(IdemClaim::Claimed)
                }
            }
        })
    }

    fn idem_finish(&self, tenant: &str, key: &str, decision: &str) -> Result<(), StateError> {
        let (tenant, key, decision) = (tenant.to_owned(), key.to_owned(), decision.to_owned());
        self.db.write(Flush::Before, move |conn| {
            run(
                conn,
                "UPDATE idempotency SET decision = ?3 WHERE tenant = ?1 AND key = ?2",
                params![tenant, key, decision],
            )?;
            Ok(())
        })
    }

    fn idem_release(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        let (tenant, key) = (tenant.to_owned(), key.to_owned());
        self.db.write(Flush::Before, move |conn| {
            run(
                conn,
                "DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND decision IS NULL",
                params![tenant, key],
            )?;
            Ok(())
        })
    }

    fn idem_purge(&self, expire_before_ms: i64, most: u32) -> Result<u64, StateError> {
        // Not flushed: a purge lost in a crash only leaves records that
        // count as absent.
        self.db.write(Flush::Later, move |conn| {
            let n = run(
                conn,
                "DELETE FROM idempotency WHERE rowid IN
                     (SELECT rowid FROM idempotency WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
                params![expire_before_ms, most],
            )?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
    }

    fn limit_take(
        &self,
        key: &str,
        window_start: i64,
        amount: f64,
        max: f64,
    ) -> Result<LimitTake, StateError> {
        let key = key.to_owned();
        self.db.write(Flush::Before, move |conn| {
            limit_take(conn, &key, window_start, amount, max)
        })
    }

    fn limit_used(&self, key: &str, window_start: i64) -> Result<f64, StateError> {
        limit_used(&*self.reader()?, key, window_start)
    }

    fn create_approval(&self, approval: &ApprovalRecord) -> Result<(), StateError> {
        let body = to_json(approval)?;
        let (id, tenant, created_ms, digest) = (
            approval.id.clone(),
            approval.tenant.clone(),
            approval.created_ms,
            approval.request_digest.clone(),
        );
        self.db.write(Flush::Before, move |conn| {
            run(
                conn,
                "INSERT OR IGNORE INTO approvals (id, tenant, created_ms, body, request_digest)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, tenant, created_ms, body, digest],
            )?;
            Ok(())
        })
    }

    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StateError> {
        let body: Option<String> = row(
            &*self.reader()?,
            "SELECT body FROM approvals WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn approvals(&self, tenant: Option<&str>) -> Result<Vec<ApprovalRecord>, StateError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT body FROM approvals WHERE ?1 IS NULL OR tenant = ?1
                 ORDER BY created_ms DESC, id",
            )
            .map_err(StateError::of)?;
        let rows = stmt
            .query_map([tenant], |r| r.get::<_, String>(0))
            .map_err(StateError::of)?;
        rows.map(|r| from_json(&r.map_err(StateError::of)?))
            .collect()
    }

    fn approvals_for_call(
        &self,
        tenant: &str,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StateError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT body FROM approvals WHERE tenant = ?1 AND request_digest = ?2
                 ORDER BY created_ms DESC, id",
            )
            .map_err(StateError::of)?;
        let rows = stmt
            .query_map([tenant, request_digest], |r| r.get::<_, String>(0))
            .map_err(StateError::of)?;
        rows.map(|r| from_json(&r.map_err(StateError::of)?))
            .collect()
    }

    fn update_approval(
        &self,
        old: &ApprovalRecord,
        new: &ApprovalRecord,
    ) -> Result<bool, StateError> {
        let (id, old, new) = (new.id.clone(), to_json(old)?, to_json(new)?);
        self.db.write(Flush::Before, move |conn| {
            let n = run(
                conn,
                "UPDATE approvals SET body = ?3 WHERE id = ?1 AND body = ?2",
                params![id, old, new],
            )?;
            Ok(n == 1)
        })
    }

    fn put_bundle(&self, bundle: &BundleRecord) -> Result<(), StateError> {
        self.execute(
            "INSERT OR IGNORE INTO bundles (digest, uploaded_ms, body) VALUES (?1, ?2, ?3)",
            params![bundle.digest, bundle.uploaded_ms, to_json(bundle)?],
        )?;
        Ok(())
    }

    fn bundle(&self, digest: &str) -> Result<Option<BundleRecord>, StateError> {
        let body: Option<String> = self
            .reader()?
            .query_row(
                "SELECT body FROM bundles WHERE digest = ?1",
                [digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(StateError::of)?;
        body.map(|b| from_json(&b)).transpose()
    }

    fn bundles(&self) -> Result<Vec<BundleRecord>, StateError> {
        let mut all: Vec<BundleRecord> =
            self.all("SELECT body FROM bundles ORDER BY uploaded_ms DESC, digest")?;
        for b in &mut all {
            b.files.clear();
        }
        Ok(all)
    }

    fn activate_bundle(&self, digest: &str, now_ms: i64) -> Result<(), StateError> {
        self.db.write_alone(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StateError::of)?;
            let known: Option<i64> = tx
                .query_row("SELECT 1 FROM bundles WHERE digest = ?1", [digest], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(StateError::of)?;
            if known.is_none() {
                return Err(StateError(format!("no archived bundle {digest}")));
            }
            tx.execute(
                "INSERT OR REPLACE INTO active_bundle (one, digest, at_ms) VALUES (1, ?1, ?2)",
                params![digest, now_ms],
            )
            .map_err(StateError::of)?;
            tx.commit().map_err(StateError::of)
        })
    }

    fn active_bundle(&self) -> Result<Option<String>, StateError> {
        self.reader()?
            .query_row("SELECT digest FROM active_bundle WHERE one = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(StateError::of)
    }
}

/// `execute` through the connection's statement cache: the statements of
/// the group jobs run once per decision, and are parsed once.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StateError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(StateError::of)
}

/// `query_row` through the statement cache; `None` if there is no row.
fn row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StateError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, f))
        .optional()
        .map_err(StateError::of)
}

/// A connection to the state file at `path`.
fn connect(path: &Path) -> Result<Connection, StateError> {
    let conn =
        Connection::open(path).map_err(|e| StateError(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(StateError::of)?;
    Ok(conn)
}

/// Takes `amount` from the limit `key` in the window starting at
/// `window_start`, if it fits under `max`.
fn limit_take(
    conn: &Connection,
    key: &str,
    window_start: i64,
    amount: f64,
    max: f64,
) -> Result<LimitTake, StateError> {
    // One statement: insert the first take, or add when it fits.
    let taken: Option<f64> = row(
        conn,
        "INSERT INTO limits (key, window_start, used) SELECT ?1, ?2, ?3 WHERE ?3 <= ?4
         ON CONFLICT (key, window_start) DO UPDATE SET used = used + excluded.used
           WHERE limits.used + excluded.used <= ?4
         RETURNING used",
        params![key, window_start, amount, max],
        |r| r.get(0),
    )?;
    match taken {
        Some(used) => Ok(LimitTake::Taken { used }),
        None => Ok(LimitTake::Refused {
            used: limit_used(conn, key, window_start)?,
        }),
    }
}

/// What the limit `key` has used in the window starting at `window_start`.
fn limit_used(conn: &Connection, key: &str, window_start: i64) -> Result<f64, StateError> {
    let used: Option<f64> = row(
        conn,
        "SELECT used FROM limits WHERE key = ?1 AND window_start = ?2",
        params![key, window_start],
        |r| r.get(0),
    )?;
    Ok(used.unwrap_or(0.0))
}
