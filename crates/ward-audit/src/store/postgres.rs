//! The scale-out store: PostgreSQL, through the synchronous `postgres`
//! client (the writer runs on its own thread).
//!
//! The log tables are append-only twice over: `install_schema` adds
//! triggers that raise on any UPDATE, DELETE or TRUNCATE (so even the
//! owner cannot rewrite history without first dropping a trigger, which is
//! itself visible), and `grant_app_role` gives the application role only
//! SELECT and INSERT on them, revoking UPDATE, DELETE and TRUNCATE. Only
//! payloads and the argument index may be deleted (erasure requests).

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use super::sql::{self, from_db, to_db, Param, Types, LOG_TABLES, SIDE_TABLES};
use super::{ArgValue, Batch, CheckpointRow, Filter, Hit, LogInfo, LogState, Store, StoreError};
use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;

const TYPES: Types = Types {
    int: "BIGINT",
    blob: "BYTEA",
    real: "DOUBLE PRECISION",
    without_rowid: "",
    text_c: "TEXT COLLATE \"C\"",
};

/// A PostgreSQL audit store.
pub struct PgStore {
    client: Client,
    conninfo: String,
    name: String,
    /// The commit statements of the current connection.
    prepared: Option<Prepared>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn redact(conninfo: &str) -> String {
    conninfo
        .split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}

impl PgStore {
    /// Connects with a libpq-style connection string (`host=… user=… dbname=…`).
    /// The schema must exist ([`PgStore::install_schema`]).
    pub fn connect(conninfo: &str) -> Result<PgStore, StoreError> {
        let name = redact(conninfo);
        let client = Client::connect(conninfo, NoTls).map_err(|e| StoreError::Open {
            path: name.clone(),
            message: e.to_string(),
        })?;
        Ok(PgStore {
            client,
            conninfo: conninfo.to_owned(),
            name,
            prepared: None,
        })
    }

    /// Reconnects after the server closed the connection, so one lost
    /// connection fails one batch rather than every batch after it.
    fn ensure_connected(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.prepared = None;
            self.client = Client::connect(&self.conninfo, NoTls).map_err(|e| StoreError::Open {
                path: self.name.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn err(&self) -> impl Fn(postgres::Error) -> StoreError + 'static {
        let path = self.name.clone();
        move |e| StoreError::Database {
            path: path.clone(),
            message: e
                .as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        }
    }

    /// Creates the tables and the append-only triggers (idempotent). Run it
    /// as the owner of the schema, not as the application role.
    pub fn install_schema(&mut self) -> Result<(), StoreError> {
        let err = self.err();
        let mut script = String::new();
        for stmt in sql::schema(&TYPES) {
            script.push_str(&stmt);
            script.push_str(";\n");
        }
        script.push_str(
            "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN RAISE EXCEPTION 'audit log table % is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$;\n",
        );
        for table in LOG_TABLES {
            script.push_str(&format!(
                "DROP TRIGGER IF EXISTS {table}_no_rewrite ON {table};\n\
                 CREATE TRIGGER {table}_no_rewrite BEFORE UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION audit_append_only();\n\
                 DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n\
                 CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();\n"
            ));
        }
        let mut tx = self.client.transaction().map_err(&err)?;
        // Serialise concurrent installers.
        tx.batch_execute("SELECT pg_advisory_xact_lock(7474747474)")
            .map_err(&err)?;
        tx.batch_execute(&script).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Grants the application role what it needs and nothing more: SELECT and
    /// INSERT on the log tables (UPDATE, DELETE and TRUNCATE revoked), and
    /// SELECT, INSERT and DELETE on the payload and argument-index tables.
    pub fn grant_app_role(&mut self, role: &str) -> Result<(), StoreError> {
        let err = self.err();
        let role = quote_ident(role);
        let mut script = String::new();
        for table in LOG_TABLES {
            script.push_str(&format!(
                "REVOKE ALL ON {table} FROM {role};\nGRANT SELECT, INSERT ON {table} TO {role};\n"
            ));
        }
        for table in SIDE_TABLES {
            script.push_str(&format!(
                "REVOKE ALL ON {table} FROM {role};\nGRANT SELECT, INSERT, DELETE ON {table} TO {role};\n"
            ));
        }
        self.client.batch_execute(&script).map_err(&err)
    }

    fn commit_inner(&mut self, batch: &Batch) -> Result<(), postgres::Error> {
        let prepared = match &self.prepared {
            Some(p) => p.clone(),
            None => {
                let p = Prepared::new(&mut self.client)?;
                self.prepared = Some(p.clone());
                p
            }
        };
        let Prepared {
            insert_log,
            tenant_of,
            insert_entry,
            insert_nodes,
            insert_rule,
            insert_payload,
            insert_arg,
            insert_cp,
        } = prepared;
        let mut tx = self.client.transaction()?;
        for log in &batch.logs {
            if let Some(info) = &log.create {
                tx.execute(
                    &insert_log,
                    &[
                        &info.origin,
                        &info.tenant,
                        &info.key_name,
                        &info.verifier_key,
                    ],
                )?;
            }
            let tenant: String = tx.query_one(&tenant_of, &[&log.origin])?.get(0);
            if !log.entries.is_empty() {
                let e = &log.entries;
                let idx: Vec<i64> = e.iter().map(|r| to_db(r.index)).collect();
                let bytes: Vec<&[u8]> = e.iter().map(|r| r.bytes.as_slice()).collect();
                let kind: Vec<&str> = e.iter().map(|r| r.kind.as_str()).collect();
                let time: Vec<&str> = e.iter().map(|r| r.time.as_str()).collect();
                let tool: Vec<Option<&str>> = e.iter().map(|r| r.tool.as_deref()).collect();
                let outcome: Vec<Option<&str>> = e.iter().map(|r| r.outcome.as_deref()).collect();
                let principal: Vec<Option<&str>> =
                    e.iter().map(|r| r.principal.as_deref()).collect();
                let agent: Vec<Option<&str>> = e.iter().map(|r| r.agent.as_deref()).collect();
                let decision: Vec<Option<&str>> =
                    e.iter().map(|r| r.decision_id.as_deref()).collect();
                tx.execute(
                    &insert_entry,
                    &[
                        &log.origin,
                        &tenant,
                        &idx,
                        &bytes,
                        &kind,
                        &time,
                        &tool,
                        &outcome,
                        &principal,
                        &agent,
                        &decision,
                    ],
                )?;
            }
            let (mut rule_idx, mut rule_name) = (Vec::new(), Vec::new());
            let (mut payload_idx, mut payload) = (Vec::new(), Vec::new());
            let (mut arg_idx, mut arg_path, mut arg_num, mut arg_text) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for e in &log.entries {
                let idx = to_db(e.index);
                let mut rules: Vec<&str> = e.rules.iter().map(String::as_str).collect();
                rules.sort_unstable();
                rules.dedup();
                for r in rules {
                    rule_idx.push(idx);
                    rule_name.push(r);
                }
                if let Some(p) = &e.payload {
                    payload_idx.push(idx);
                    payload.push(p.as_slice());
                }
                for (path, value) in &e.args {
                    let (num, text): (Option<f64>, Option<&str>) = match value {
                        ArgValue::Number(n) => (Some(*n), None),
                        ArgValue::Text(s) => (None, Some(s.as_str())),
                    };
                    arg_idx.push(idx);
                    arg_path.push(path.as_str());
                    arg_num.push(num);
                    arg_text.push(text);
                }
            }
            if !rule_idx.is_empty() {
                tx.execute(&insert_rule, &[&log.origin, &rule_idx, &rule_name])?;
            }
            if !payload_idx.is_empty() {
                tx.execute(&insert_payload, &[&log.origin, &payload_idx, &payload])?;
            }
            if !arg_idx.is_empty() {
                tx.execute(
                    &insert_arg,
                    &[&log.origin, &arg_idx, &arg_path, &arg_num, &arg_text],
                )?;
            }
            if !log.nodes.is_empty() {
                let level: Vec<i64> = log
                    .nodes
                    .iter()
                    .map(|(id, _)| i64::from(id.level))
                    .collect();
                let idx: Vec<i64> = log.nodes.iter().map(|(id, _)| to_db(id.index)).collect();
                let hash: Vec<&[u8]> = log.nodes.iter().map(|(_, h)| &h[..]).collect();
                tx.execute(&insert_nodes, &[&log.origin, &level, &idx, &hash])?;
            }
            for c in &log.checkpoints {
                tx.execute(
                    &insert_cp,
                    &[&log.origin, &to_db(c.size), &c.note, &i64::from(c.is_final)],
                )?;
            }
        }
        tx.commit()
    }
}

/// The statements of a commit, prepared once per connection.
#[derive(Clone)]
struct Prepared {
    insert_log: postgres::Statement,
    tenant_of: postgres::Statement,
    insert_entry: postgres::Statement,
    insert_nodes: postgres::Statement,
    insert_rule: postgres::Statement,
    insert_payload: postgres::Statement,
    insert_arg: postgres::Statement,
    insert_cp: postgres::Statement,
}

impl Prepared {
    fn new(client: &mut Client) -> Result<Prepared, postgres::Error> {
        let insert_log = client.prepare(
                "INSERT INTO audit_logs (origin, tenant, key_name, verifier_key) VALUES ($1, $2, $3, $4)",
            )?;
        let tenant_of = client.prepare("SELECT tenant FROM audit_logs WHERE origin = $1")?;
        let insert_entry = client.prepare(
                "INSERT INTO audit_entries (origin, idx, entry, tenant, kind, time, tool, outcome, principal, agent, decision_id) \
                 SELECT $1, u.idx, u.entry, $2, u.kind, u.time, u.tool, u.outcome, u.principal, u.agent, u.decision_id \
                 FROM UNNEST($3::BIGINT[], $4::BYTEA[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[]) \
                 AS u(idx, entry, kind, time, tool, outcome, principal, agent, decision_id)",
            )?;
        let insert_nodes = client.prepare(
            "INSERT INTO audit_nodes (origin, level, idx, hash) SELECT $1, u.level, u.idx, u.hash \
                 FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BYTEA[]) AS u(level, idx, hash)",
        )?;
        // One statement per table per log, with the rows as arrays: a batch
        // costs a fixed number of round trips, not a few per entry.
        let insert_rule = client.prepare(
            "INSERT INTO audit_rules (origin, idx, rule) SELECT $1, u.idx, u.rule \
                 FROM UNNEST($2::BIGINT[], $3::TEXT[]) AS u(idx, rule)",
        )?;
        let insert_payload = client.prepare(
            "INSERT INTO audit_payloads (origin, idx, payload) SELECT $1, u.idx, u.payload \
                 FROM UNNEST($2::BIGINT[], $3::BYTEA[]) AS u(idx, payload)",
        )?;
        let insert_arg = client.prepare(
            "INSERT INTO audit_arg_index (origin, idx, path, num, text) \
                 SELECT $1, u.idx, u.path, u.num, u.text \
                 FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::DOUBLE PRECISION[], $5::TEXT[]) \
                 AS u(idx, path, num, text)",
        )?;
        let insert_cp = client.prepare(
                "INSERT INTO audit_checkpoints (origin, seq, size, note, is_final) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM audit_checkpoints WHERE origin = $1",
            )?;
        Ok(Prepared {
            insert_log,
            tenant_of,
            insert_entry,
            insert_nodes,
            insert_rule,
            insert_payload,
            insert_arg,
            insert_cp,
        })
    }
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Store for PgStore {
    fn logs(&mut self) -> Result<Vec<LogState>, StoreError> {
        self.ensure_connected()?;
        let err = self.err();
        let rows = self
            .client
            .query(
                "SELECT l.origin, l.tenant, l.key_name, l.verifier_key, \
                 (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries e WHERE e.origin = l.origin), \
                 EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.origin = l.origin AND c.is_final = 1) \
                 FROM audit_logs l ORDER BY l.origin",
                &[],
            )
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(LogState {
                    info: LogInfo {
                        origin: r.try_get(0)?,
                        tenant: r.try_get(1)?,
                        key_name: r.try_get(2)?,
                        verifier_key: r.try_get(3)?,
                    },
                    size: from_db(r.try_get(4)?),
                    closed: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(&err)
    }

    fn nodes(&mut self, origin: &str, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let err = self.err();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let level: Vec<i64> = ids.iter().map(|id| i64::from(id.level)).collect();
        let idx: Vec<i64> = ids.iter().map(|id| to_db(id.index)).collect();
        let rows = self
            .client
            .query(
                "SELECT u.ord, n.hash FROM UNNEST($2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY AS u(level, idx, ord) \
                 JOIN audit_nodes n ON n.origin = $1 AND n.level = u.level AND n.idx = u.idx ORDER BY u.ord",
                &[&origin, &level, &idx],
            )
            .map_err(&err)?;
        let mut out = Vec::with_capacity(ids.len());
        let mut rows = rows.iter();
        for (i, id) in ids.iter().enumerate() {
            let missing = || StoreError::MissingNode {
                origin: origin.to_owned(),
                level: id.level,
                index: id.index,
            };
            let row = rows.next().ok_or_else(missing)?;
            let ord: i64 = row.try_get(0).map_err(&err)?;
            let hash: Vec<u8> = row.try_get(1).map_err(&err)?;
            if ord != to_db(i as u64 + 1) {
                return Err(missing());
            }
            out.push(Hash::try_from(hash.as_slice()).map_err(|_| missing())?);
        }
        Ok(out)
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.ensure_connected()?;
        let err = self.err();
        self.commit_inner(batch).map_err(err)
    }

    fn entries(&mut self, origin: &str, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let err = self.err();
        let rows = self
            .client
            .query(
                "SELECT entry FROM audit_entries WHERE origin = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
                &[&origin, &to_db(start), &to_db(end)],
            )
            .map_err(&err)?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)
    }

    fn checkpoints(&mut self, origin: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let err = self.err();
        let rows = self
            .client
            .query(
                "SELECT size, note, is_final FROM audit_checkpoints WHERE origin = $1 ORDER BY seq",
                &[&origin],
            )
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(CheckpointRow {
                    size: from_db(r.try_get(0)?),
                    note: r.try_get(1)?,
                    is_final: r.try_get::<_, i64>(2)? != 0,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(&err)
    }

    fn payload(&mut self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let err = self.err();
        let row = self
            .client
            .query_opt(
                "SELECT payload FROM audit_payloads WHERE origin = $1 AND idx = $2",
                &[&origin, &to_db(index)],
            )
            .map_err(&err)?;
        row.map(|r| r.try_get(0)).transpose().map_err(&err)
    }

    fn forget_payload(&mut self, origin: &str, index: u64) -> Result<bool, StoreError> {
        let err = self.err();
        let mut tx = self.client.transaction().map_err(&err)?;
        let n = tx
            .execute(
                "DELETE FROM audit_payloads WHERE origin = $1 AND idx = $2",
                &[&origin, &to_db(index)],
            )
            .map_err(&err)?;
        tx.execute(
            "DELETE FROM audit_arg_index WHERE origin = $1 AND idx = $2",
            &[&origin, &to_db(index)],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(n > 0)
    }

    fn query(&mut self, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        let err = self.err();
        let (text, params) = sql::build_query(filter, |n| format!("${n}"));
        let boxed: Vec<Box<dyn ToSql + Sync>> = params
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    Param::Text(s) => Box::new(s),
                    Param::Int(i) => Box::new(i),
                    Param::Real(r) => Box::new(r),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&text, &refs).map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(Hit {
                    origin: r.try_get(0)?,
                    index: from_db(r.try_get(1)?),
                    entry: r.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(&err)
    }

    fn time_bounds(
        &mut self,
        origin: &str,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        let err = self.err();
        let from = from.map(|t| t.to_string()).unwrap_or_default();
        let until: Option<String> = until.map(|t| t.to_string());
        let row = self
            .client
            .query_one(
                "SELECT MIN(idx), MAX(idx) FROM audit_entries WHERE origin = $1 AND time >= $2 AND ($3::TEXT IS NULL OR time < $3)",
                &[&origin, &from, &until],
            )
            .map_err(&err)?;
        let lo: Option<i64> = row.try_get(0).map_err(&err)?;
        let hi: Option<i64> = row.try_get(1).map_err(&err)?;
        Ok(lo.zip(hi).map(|(lo, hi)| (from_db(lo), from_db(hi))))
    }
}
