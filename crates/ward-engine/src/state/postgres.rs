//! The shared state store: PostgreSQL, through the synchronous `postgres`
//! client, for several nodes that must agree on switches, limits,
//! idempotency keys and approvals.
//!
//! Records are kept as JSON next to the columns they are looked up by, in
//! tables prefixed `ward_state_` (so they can live beside the audit log's
//! `audit_` tables). Every operation that must be atomic across nodes is one
//! statement: a limit take is an upsert guarded by the maximum, an
//! idempotency claim an upsert guarded by the expiry, an approval vote a
//! compare-and-swap `UPDATE`.
//!
//! Connections come from a small pool, each behind its own mutex, so
//! concurrent calls do not queue on one connection. A connection the server
//! closed (a restart, an administrator's `pg_terminate_backend`) is dropped
//! and the call is retried once on a fresh connection when that is safe:
//! always when the server reported the end of the session (the statement
//! did not run), and for reads and idempotent writes also when the socket
//! just broke. The operations that are not idempotent (a claim, a take, a
//! vote, clearing a switch) then fail once, since the statement may have
//! committed, and leave the retry to the caller; the next call reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{BundleRecord, IdemClaim, LimitTake, StateError, StateStore};
use crate::approvals::ApprovalRecord;
use crate::identity::ApiKeyRecord;
use crate::registry::AgentRecord;
use crate::switches::{BreakGlass, Scope, Switch, SwitchKind};

const SCHEMA_VERSION: i64 = 2;

/// Version 1 kept an approval's request digest only inside its JSON body.
const MIGRATE_V1: &str = r#"
ALTER TABLE ward_state_approvals ADD COLUMN IF NOT EXISTS request_digest TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE ward_state_approvals SET request_digest = COALESCE(body::jsonb->>'request_digest', '');
UPDATE ward_state_meta SET version = 2 WHERE one = 1;
"#;

/// Connections per store unless told otherwise.
const DEFAULT_POOL: usize = 4;

/// Serialises concurrent schema installers (distinct from the audit log's).
const SCHEMA_LOCK: i64 = 7_575_757_575;

const META: &str = "CREATE TABLE IF NOT EXISTS ward_state_meta (
  one INTEGER PRIMARY KEY CHECK (one = 1), version BIGINT NOT NULL)";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ward_state_api_keys (id TEXT COLLATE "C" PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ward_state_agents (id TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id, version));
CREATE TABLE IF NOT EXISTS ward_state_switches (kind TEXT COLLATE "C" NOT NULL,
  scope TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, scope));
CREATE TABLE IF NOT EXISTS ward_state_break_glass (id TEXT COLLATE "C" PRIMARY KEY,
  expires_ms BIGINT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ward_state_idempotency (tenant TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL, request_digest TEXT NOT NULL, at_ms BIGINT NOT NULL,
  decision TEXT, PRIMARY KEY (tenant, key));
CREATE INDEX IF NOT EXISTS ward_state_idempotency_at ON ward_state_idempotency (at_ms);
CREATE TABLE IF NOT EXISTS ward_state_limits (key TEXT COLLATE "C" NOT NULL,
  window_start BIGINT NOT NULL, used DOUBLE PRECISION NOT NULL, PRIMARY KEY (key, window_start));
CREATE TABLE IF NOT EXISTS ward_state_approvals (id TEXT COLLATE "C" PRIMARY KEY,
  tenant TEXT COLLATE "C" NOT NULL, created_ms BIGINT NOT NULL, body TEXT NOT NULL,
  request_digest TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS ward_state_approvals_tenant ON ward_state_approvals (tenant, created_ms);
CREATE INDEX IF NOT EXISTS ward_state_approvals_call
  ON ward_state_approvals (tenant, request_digest, created_ms);
CREATE TABLE IF NOT EXISTS ward_state_bundles (digest TEXT COLLATE "C" PRIMARY KEY,
  uploaded_ms BIGINT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ward_state_active_bundle (one INTEGER PRIMARY KEY CHECK (one = 1),
  digest TEXT NOT NULL, at_ms BIGINT NOT NULL);
"#;

/// One pooled connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    fn prepare(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.query(&s, params)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.query_opt(&s, params)
    }

    fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.execute(&s, params)
    }
}

/// Whether a call may be repeated on a fresh connection after the first
/// one broke with the statement's fate unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads and writes that give the same result when repeated.
    Safe,
    /// Claims, takes and swaps: a repeat could count twice.
    Never,
}

/// The PostgreSQL state store.
pub struct PgState {
    conninfo: String,
    name: String,
    pool: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PgState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgState")
            .field("name", &self.name)
            .field("pool", &self.pool.len())
            .finish_non_exhaustive()
    }
}

impl Drop for PgState {
    /// The sync client closes its connection by running a small runtime of
    /// its own, which panics on a tokio runtime thread, so when the last
    /// handle goes away inside a runtime (say, in the engine's refresh
    /// task), the connections are closed on a thread of their own.
    fn drop(&mut self) {
        let conns: Vec<Conn> = self
            .pool
            .iter_mut()
            .filter_map(|m| m.get_mut().unwrap_or_else(PoisonError::into_inner).take())
            .collect();
        if !conns.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("ward-pg-close".into())
                .spawn(move || drop(conns));
        }
    }
}

fn redact(conninfo: &str) -> String {
    conninfo
        .split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn to_json(value: &impl Serialize) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(StateError::of)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|e| StateError(format!("corrupt record: {e}")))
}

/// How an error left the connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lost {
    /// The connection is fine; the statement failed.
    No,
    /// The server ended the session and said so (an administrator's
    /// termination, a shutdown, a crash): the statement did not commit.
    NotRun,
    /// The connection broke without a word from the server: the statement
    /// may or may not have committed.
    Unknown,
}

fn lost(e: &postgres::Error) -> Lost {
    match e.as_db_error() {
        Some(db) if db.severity() == "FATAL" || db.severity() == "PANIC" => Lost::NotRun,
        Some(db) if db.code().code().starts_with("57P") => Lost::NotRun,
        Some(db) if db.code().code().starts_with("08") => Lost::Unknown,
        Some(_) if e.is_closed() => Lost::Unknown,
        Some(_) => Lost::No,
        // Not from the server: I/O, a closed socket, a protocol error.
        None => Lost::Unknown,
    }
}

fn bodies<T: DeserializeOwned>(rows: &[Row]) -> Result<Vec<T>, StateError> {
    rows.iter()
        .map(|r| from_json(&r.try_get::<_, String>(0).map_err(StateError::of)?))
        .collect()
}

impl PgState {
    /// Connects with a libpq-style connection string (`host=… user=…
    /// dbname=…`), creating the schema if it is missing, with a pool of four
    /// connections.
    pub fn connect(conninfo: &str) -> Result<PgState, StateError> {
        PgState::connect_pool(conninfo, DEFAULT_POOL)
    }

    /// Like [`PgState::connect`] with `size` pooled connections (at least
    /// one). The first is opened now; the others when first needed.
    pub fn connect_pool(conninfo: &str, size: usize) -> Result<PgState, StateError> {
        let state = PgState {
            conninfo: conninfo.to_owned(),
            name: redact(conninfo),
            pool: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        state.install_schema()?;
        Ok(state)
    }

    fn open(&self) -> Result<Conn, StateError> {
        let client = Client::connect(&self.conninfo, NoTls)
            .map_err(|e| StateError(format!("{}: {e}", self.name)))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn err(&self, e: &postgres::Error) -> StateError {
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string());
        StateError(format!("{}: {message}", self.name))
    }

    /// Creates the tables if missing and checks the schema version.
    fn install_schema(&self) -> Result<(), StateError> {
        let name = self.name.clone();
        let version = self.with(Retry::Safe, |conn| {
            let mut tx = conn.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(META)?;
            let found: Option<i64> = tx
                .query_opt("SELECT version FROM ward_state_meta WHERE one = 1", &[])?
                .map(|r| r.try_get(0))
                .transpose()?;
            if found == Some(1) {
                tx.batch_execute(MIGRATE_V1)?;
            }
            if found.is_none_or(|v| v == SCHEMA_VERSION || v == 1) {
                tx.batch_execute(SCHEMA)?;
                tx.execute(
                    "INSERT INTO ward_state_meta (one, version) VALUES (1, $1) ON CONFLICT (one) DO NOTHING",
                    &[&SCHEMA_VERSION],
                )?;
                tx.commit()?;
            }
            Ok(found)
        })?;
        match version {
            Some(v) if v != SCHEMA_VERSION && v != 1 => Err(StateError(format!(
                "{name}: state schema version {v}, this build reads {SCHEMA_VERSION}"
            ))),
            _ => Ok(()),
        }
    }

    /// A free pooled connection, or the next one in turn if all are busy.
    fn slot(&self) -> Result<MutexGuard<'_, Option<Conn>>, StateError> {
        let n = self.pool.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        for i in 0..n {
            let Some(slot) = self.pool.get((start + i) % n) else {
                continue;
            };
            match slot.try_lock() {
                Ok(guard) => return Ok(guard),
                Err(TryLockError::Poisoned(p)) => {
                    slot.clear_poison();
                    let mut guard = p.into_inner();
                    // A panic mid-call may have left it inside a transaction.
                    *guard = None;
                    return Ok(guard);
                }
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let slot = self
            .pool
            .get(start)
            .ok_or_else(|| StateError("state connection pool is empty".into()))?;
        Ok(slot.lock().unwrap_or_else(|p| {
            slot.clear_poison();
            let mut guard = p.into_inner();
            *guard = None;
            guard
        }))
    }

    /// Runs `f` on a pooled connection, (re)connecting as needed.
    fn with<T>(
        &self,
        retry: Retry,
        mut f: impl FnMut(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, StateError> {
        let mut slot = self.slot()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                *slot = None;
                *slot = Some(self.open()?);
            }
            let Some(conn) = slot.as_mut() else {
                return Err(StateError("state connection missing".into()));
            };
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let how = match lost(&e) {
                        Lost::No if conn.client.is_closed() => Lost::Unknown,
                        how => how,
                    };
                    if how != Lost::No {
                        *slot = None;
                    }
                    let again = match (how, retry) {
                        (Lost::No, _) => false,
                        (Lost::NotRun, _) => true,
                        (Lost::Unknown, Retry::Safe) => true,
                        (Lost::Unknown, Retry::Never) => false,
                    };
                    if again && attempt < 2 {
                        continue;
                    }
                    return Err(self.err(&e));
                }
            }
        }
    }

    fn exec(&self, retry: Retry, sql: &'static str, params: Params<'_>) -> Result<u64, StateError> {
        self.with(retry, |c| c.execute(sql, params))
    }

    fn all<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<T>, StateError> {
        bodies(&self.with(Retry::Safe, |c| c.query(sql, params))?)
    }

    fn one<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<T>, StateError> {
        let body: Option<String> = self.with(Retry::Safe, |c| {
            c.query_opt(sql, params)?.map(|r| r.try_get(0)).transpose()
        })?;
        body.map(|b| from_json(&b)).transpose()
    }
}

impl StateStore for PgState {
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StateError> {
        let body = to_json(key)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_api_keys (id, body) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            &[&key.id, &body],
        )?;
        Ok(())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StateError> {
        self.all("SELECT body FROM ward_state_api_keys ORDER BY id", &[])
    }

    fn put_agent(&self, agent: &AgentRecord) -> Result<(), StateError> {
        let body = to_json(agent)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_agents (id, version, body) VALUES ($1, $2, $3)
             ON CONFLICT (id, version) DO UPDATE SET body = excluded.body",
            &[&agent.id, &agent.version, &body],
        )?;
        Ok(())
    }

    fn agents(&self) -> Result<Vec<AgentRecord>, StateError> {
        self.all(
            "SELECT body FROM ward_state_agents ORDER BY id, version",
            &[],
        )
    }

    fn put_switch(&self, switch: &Switch) -> Result<(), StateError> {
        let body = to_json(switch)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_switches (kind, scope, body) VALUES ($1, $2, $3)
             ON CONFLICT (kind, scope) DO UPDATE SET body = excluded.body",
            &[&switch.kind.as_str(), &switch.scope.label(), &body],
        )?;
        Ok(())
    }

    fn clear_switch(&self, kind: SwitchKind, scope: &Scope) -> Result<bool, StateError> {
        let n = self.exec(
            Retry::Never,
            "DELETE FROM ward_state_switches WHERE kind = $1 AND scope = $2",
            &[&kind.as_str(), &scope.label()],
        )?;
        Ok(n > 0)
    }

    fn switches(&self) -> Result<Vec<Switch>, StateError> {
        self.all(
            "SELECT body FROM ward_state_switches ORDER BY kind, scope",
            &[],
        )
    }

    fn put_break_glass(&self, grant: &BreakGlass) -> Result<(), StateError> {
        let body = to_json(grant)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_break_glass (id, expires_ms, body) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET expires_ms = excluded.expires_ms, body = excluded.body",
            &[&grant.id, &grant.expires_ms, &body],
        )?;
        Ok(())
    }

    fn break_glass(&self, now_ms: i64) -> Result<Vec<BreakGlass>, StateError> {
        self.all(
            "SELECT body FROM ward_state_break_glass WHERE expires_ms > $1 ORDER BY id",
            &[&now_ms],
        )
    }

    fn idem_claim(
        &self,
        tenant: &str,
        key: &str,
        request_digest: &str,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<IdemClaim, StateError> {
        // The upsert claims a new key or an expired record; the row lock it
        // takes makes exactly one concurrent caller win. A loser reads the
        // winner's record; if the winner released it meanwhile, try again.
        for _ in 0..8 {
            let claimed = self.with(Retry::Never, |c| {
                c.query_opt(
                    "INSERT INTO ward_state_idempotency (tenant, key, request_digest, at_ms, decision)
                     VALUES ($1, $2, $3, $4, NULL)
                     ON CONFLICT (tenant, key) DO UPDATE
                       SET request_digest = excluded.request_digest, at_ms = excluded.at_ms,
                           decision = NULL
                       WHERE ward_state_idempotency.at_ms < $5
                     RETURNING 1",
                    &[&tenant, &key, &request_digest, &now_ms, &expire_before_ms],
                )
            })?;
            if claimed.is_some() {
                return Ok(IdemClaim::Claimed);
            }
            let seen = self.with(Retry::Safe, |c| {
                c.query_opt(
                    "SELECT request_digest, decision FROM ward_state_idempotency
                     WHERE tenant = $1 AND key = $2",
                    &[&tenant, &key],
                )?
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .transpose()
            })?;
            if let Some((request_digest, decision)) = seen {
                return Ok(IdemClaim::Seen {
                    request_digest,
                    decision,
                });
            }
        }
        Err(StateError(format!(
            "idempotency key `{key}` kept changing; try again"
        )))
    }

    fn idem_finish(&self, tenant: &str, key: &str, decision: &str) -> Result<(), StateError> {
        self.exec(
            Retry::Safe,
            "UPDATE ward_state_idempotency SET decision = $3 WHERE tenant = $1 AND key = $2",
            &[&tenant, &key, &decision],
        )?;
        Ok(())
    }

    fn idem_release(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        self.exec(
            Retry::Safe,
            "DELETE FROM ward_state_idempotency
             WHERE tenant = $1 AND key = $2 AND decision IS NULL",
            &[&tenant, &key],
        )?;
        Ok(())
    }

    fn idem_purge(&self, expire_before_ms: i64, most: u32) -> Result<u64, StateError> {
        self.exec(
            Retry::Safe,
            "DELETE FROM ward_state_idempotency WHERE (tenant, key) IN
             (SELECT tenant, key FROM ward_state_idempotency WHERE at_ms < $1
              ORDER BY at_ms LIMIT $2)",
            &[&expire_before_ms, &i64::from(most)],
        )
    }

    fn limit_take(
        &self,
        key: &str,
        window_start: i64,
        amount: f64,
        max: f64,
    ) -> Result<LimitTake, StateError> {
        // One statement: insert the first take, or add when it fits.
        let taken: Option<f64> = self.with(Retry::Never, |c| {
            c.query_opt(
                "INSERT INTO ward_state_limits (key, window_start, used)
                 SELECT $1::TEXT, $2::BIGINT, $3::DOUBLE PRECISION WHERE $3::DOUBLE PRECISION <= $4::DOUBLE PRECISION
                 ON CONFLICT (key, window_start) DO UPDATE
                   SET used = ward_state_limits.used + excluded.used
                   WHERE ward_state_limits.used + excluded.used <= $4::DOUBLE PRECISION
                 RETURNING used",
                &[&key, &window_start, &amount, &max],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })?;
        match taken {
            Some(used) => Ok(LimitTake::Taken { used }),
            None => Ok(LimitTake::Refused {
                used: self.limit_used(key, window_start)?,
            }),
        }
    }

    fn limit_used(&self, key: &str, window_start: i64) -> Result<f64, StateError> {
        let used: Option<f64> = self.with(Retry::Safe, |c| {
            c.query_opt(
                "SELECT used FROM ward_state_limits WHERE key = $1 AND window_start = $2",
                &[&key, &window_start],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })?;
        Ok(used.unwrap_or(0.0))
    }

    fn create_approval(&self, approval: &ApprovalRecord) -> Result<(), StateError> {
        let body = to_json(approval)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_approvals (id, tenant, created_ms, body, request_digest)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &approval.id,
                &approval.tenant,
                &approval.created_ms,
                &body,
                &approval.request_digest,
            ],
        )?;
        Ok(())
    }

    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StateError> {
        self.one(
            "SELECT body FROM ward_state_approvals WHERE id = $1",
            &[&id],
        )
    }

    fn approvals(&self, tenant: Option<&str>) -> Result<Vec<ApprovalRecord>, StateError> {
        self.all(
            "SELECT body FROM ward_state_approvals WHERE $1::TEXT IS NULL OR tenant = $1::TEXT
             ORDER BY created_ms DESC, id",
            &[&tenant],
        )
    }

    fn approvals_for_call(
        &self,
        tenant: &str,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StateError> {
        self.all(
            "SELECT body FROM ward_state_approvals WHERE tenant = $1 AND request_digest = $2
             ORDER BY created_ms DESC, id",
            &[&tenant, &request_digest],
        )
    }

    fn update_approval(
        &self,
        old: &ApprovalRecord,
        new: &ApprovalRecord,
    ) -> Result<bool, StateError> {
        // Compared as JSON values, so key order or number spelling in the
        // stored text cannot make a swap fail that should succeed.
        let (old_body, new_body) = (to_json(old)?, to_json(new)?);
        let n = self.exec(
            Retry::Never,
            "UPDATE ward_state_approvals SET body = $3
             WHERE id = $1 AND body::jsonb = $2::TEXT::jsonb",
            &[&new.id, &old_body, &new_body],
        )?;
        Ok(n == 1)
    }

    fn put_bundle(&self, bundle: &BundleRecord) -> Result<(), StateError> {
        let body = to_json(bundle)?;
        self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_bundles (digest, uploaded_ms, body) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO NOTHING",
            &[&bundle.digest, &bundle.uploaded_ms, &body],
        )?;
        Ok(())
    }

    fn bundle(&self, digest: &str) -> Result<Option<BundleRecord>, StateError> {
        self.one(
            "SELECT body FROM ward_state_bundles WHERE digest = $1",
            &[&digest],
        )
    }

    fn bundles(&self) -> Result<Vec<BundleRecord>, StateError> {
        let mut all: Vec<BundleRecord> = self.all(
            "SELECT body FROM ward_state_bundles ORDER BY uploaded_ms DESC, digest",
            &[],
        )?;
        for b in &mut all {
            b.files.clear();
        }
        Ok(all)
    }

    fn activate_bundle(&self, digest: &str, now_ms: i64) -> Result<(), StateError> {
        let n = self.exec(
            Retry::Safe,
            "INSERT INTO ward_state_active_bundle (one, digest, at_ms)
             SELECT 1, $1::TEXT, $2::BIGINT
             WHERE EXISTS (SELECT 1 FROM ward_state_bundles WHERE digest = $1::TEXT)
             ON CONFLICT (one) DO UPDATE SET digest = excluded.digest, at_ms = excluded.at_ms",
            &[&digest, &now_ms],
        )?;
        if n == 0 {
            return Err(StateError(format!("no archived bundle {digest}")));
        }
        Ok(())
    }

    fn active_bundle(&self) -> Result<Option<String>, StateError> {
        self.with(Retry::Safe, |c| {
            c.query_opt(
                "SELECT digest FROM ward_state_active_bundle WHERE one = 1",
                &[],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }
}
