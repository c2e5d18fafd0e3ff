//! SQL shared by the SQLite and PostgreSQL stores: the schema (with each
//! dialect's type names) and the query builder (with each dialect's
//! placeholders).

use super::{ArgValue, Filter};

/// Column types of one dialect.
pub(crate) struct Types {
    pub(crate) int: &'static str,
    /// An integer primary key the database assigns.
    pub(crate) serial: &'static str,
    pub(crate) blob: &'static str,
    pub(crate) real: &'static str,
    pub(crate) without_rowid: &'static str,
    pub(crate) text_c: &'static str,
}

/// The schema version this code writes (SQLite `user_version`; PostgreSQL
/// keeps no number, the shape of `audit_entries` tells the versions apart).
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// The append-only log tables.
pub(crate) const LOG_TABLES: [&str; 6] = [
    "audit_logs",
    "audit_entries",
    "audit_facets",
    "audit_rules",
    "audit_nodes",
    "audit_checkpoints",
];

/// The deletable side tables.
pub(crate) const SIDE_TABLES: [&str; 2] = ["audit_payloads", "audit_args"];

/// `CREATE TABLE IF NOT EXISTS` statements, in order.
///
/// Every table but `audit_logs` is keyed by a small integer log id and the
/// entry index first, so a batch appends at one right edge per log and
/// table instead of at random pages: the pages a commit rewrites (and
/// fsyncs in the WAL) are the new rows' own, plus a handful. The only
/// secondary index, `(log, time)`, grows at its right edge too, because
/// entries are recorded in time order. Rules and indexed arguments are
/// matched through their tables' primary keys while a query walks the
/// tenant's facets, rather than through indexes on the value, which would
/// dirty one random page per entry.
pub(crate) fn schema(t: &Types) -> Vec<String> {
    let (int, blob, real, wr, text_c) = (t.int, t.blob, t.real, t.without_rowid, t.text_c);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS audit_logs (id {serial}, origin TEXT NOT NULL UNIQUE, \
             tenant TEXT NOT NULL, key_name TEXT NOT NULL, verifier_key TEXT NOT NULL)",
            serial = t.serial
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_entries (log {int} NOT NULL, idx {int} NOT NULL, \
             entry {blob} NOT NULL, PRIMARY KEY (log, idx)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_facets (log {int} NOT NULL, idx {int} NOT NULL, \
             kind TEXT NOT NULL, time {text_c} NOT NULL, tool TEXT, outcome TEXT, principal TEXT, \
             agent TEXT, decision_id TEXT, PRIMARY KEY (log, idx)){wr}"
        ),
        "CREATE INDEX IF NOT EXISTS audit_facets_time ON audit_facets (log, time)".to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_rules (log {int} NOT NULL, idx {int} NOT NULL, \
             rule TEXT NOT NULL, PRIMARY KEY (log, idx, rule)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_nodes (log {int} NOT NULL, level {int} NOT NULL, \
             idx {int} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (log, level, idx)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_checkpoints (log {int} NOT NULL, seq {int} NOT NULL, \
             size {int} NOT NULL, note TEXT NOT NULL, is_final {int} NOT NULL, \
             PRIMARY KEY (log, seq)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_payloads (log {int} NOT NULL, idx {int} NOT NULL, \
             payload {blob} NOT NULL, PRIMARY KEY (log, idx)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_args (log {int} NOT NULL, idx {int} NOT NULL, \
             path TEXT NOT NULL, num {real}, text TEXT, PRIMARY KEY (log, idx, path)){wr}"
        ),
    ]
}

/// The tables of schema version 1, which keyed every row by the origin
/// string and indexed rules and argument values directly.
const V1_TABLES: [&str; 7] = [
    "audit_logs",
    "audit_entries",
    "audit_rules",
    "audit_nodes",
    "audit_checkpoints",
    "audit_payloads",
    "audit_arg_index",
];

/// Statements that move a version 1 database to the current schema in one
/// transaction: rename the old tables, create the new ones, copy every row
/// (log ids are given in origin order), and drop the old tables. Nothing is
/// recomputed: entries, nodes and signed checkpoints are copied byte for
/// byte. `rename_key` spells the extra statement a dialect needs to free
/// the name of a renamed table's primary-key index, if any.
pub(crate) fn migrate_v1(t: &Types, rename_key: Option<fn(&str) -> String>) -> Vec<String> {
    let mut out = Vec::new();
    for table in V1_TABLES {
        out.push(format!("ALTER TABLE {table} RENAME TO {table}_v1"));
        if let Some(rename_key) = rename_key {
            out.push(rename_key(table));
        }
    }
    out.extend(schema(t));
    let by_origin = "JOIN audit_logs l ON l.origin = o.origin";
    out.extend([
        "INSERT INTO audit_logs (origin, tenant, key_name, verifier_key) \
         SELECT origin, tenant, key_name, verifier_key FROM audit_logs_v1 ORDER BY origin"
            .to_owned(),
        format!(
            "INSERT INTO audit_entries (log, idx, entry) SELECT l.id, o.idx, o.entry \
             FROM audit_entries_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_facets (log, idx, kind, time, tool, outcome, principal, agent, \
             decision_id) SELECT l.id, o.idx, o.kind, o.time, o.tool, o.outcome, o.principal, \
             o.agent, o.decision_id FROM audit_entries_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_rules (log, idx, rule) SELECT l.id, o.idx, o.rule \
             FROM audit_rules_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_nodes (log, level, idx, hash) SELECT l.id, o.level, o.idx, o.hash \
             FROM audit_nodes_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_checkpoints (log, seq, size, note, is_final) \
             SELECT l.id, o.seq, o.size, o.note, o.is_final FROM audit_checkpoints_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_payloads (log, idx, payload) SELECT l.id, o.idx, o.payload \
             FROM audit_payloads_v1 o {by_origin}"
        ),
        format!(
            "INSERT INTO audit_args (log, idx, path, num, text) \
             SELECT l.id, o.idx, o.path, o.num, o.text FROM audit_arg_index_v1 o {by_origin}"
        ),
    ]);
    for table in V1_TABLES {
        out.push(format!("DROP TABLE {table}_v1"));
    }
    out
}

/// Every log with its size and whether a final checkpoint closed it.
pub(crate) const LOGS_QUERY: &str = "SELECT l.origin, l.tenant, l.key_name, l.verifier_key, \
     (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries e WHERE e.log = l.id), \
     EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.log = l.id AND c.is_final = 1) \
     FROM audit_logs l ORDER BY l.origin";

/// The log id of an origin, as a scalar subquery on placeholder `p`.
pub(crate) fn log_id(p: &str) -> String {
    format!("(SELECT id FROM audit_logs WHERE origin = {p})")
}

/// A bound query parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

/// Builds the query for a filter; `ph(n)` spells the n-th (1-based) placeholder.
/// It walks the tenant's facets (by the `(log, time)` index when a time
/// bound is given) and probes rules and arguments by primary key.
pub(crate) fn build_query(filter: &Filter, ph: fn(usize) -> String) -> (String, Vec<Param>) {
    let mut params = vec![Param::Text(filter.tenant.clone())];
    let mut sql = format!(
        "SELECT l.origin, f.idx, e.entry FROM audit_logs l \
         JOIN audit_facets f ON f.log = l.id \
         JOIN audit_entries e ON e.log = f.log AND e.idx = f.idx WHERE l.tenant = {}",
        ph(1)
    );
    let mut push = |sql: &mut String, clause: &str, p: Param| {
        params.push(p);
        sql.push_str(&clause.replace('?', &ph(params.len())));
    };
    if let Some(from) = filter.from {
        push(&mut sql, " AND f.time >= ?", Param::Text(from.to_string()));
    }
    if let Some(until) = filter.until {
        push(&mut sql, " AND f.time < ?", Param::Text(until.to_string()));
    }
    for (column, value) in [
        ("kind", &filter.kind),
        ("tool", &filter.tool),
        ("outcome", &filter.outcome),
        ("principal", &filter.principal),
        ("agent", &filter.agent),
    ] {
        if let Some(v) = value {
            push(
                &mut sql,
                &format!(" AND f.{column} = ?"),
                Param::Text(v.clone()),
            );
        }
    }
    if let Some(rule) = &filter.rule {
        push(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM audit_rules r WHERE r.log = f.log AND r.idx = f.idx AND r.rule = ?)",
            Param::Text(rule.clone()),
        );
    }
    for arg in &filter.args {
        push(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM audit_args a WHERE a.log = f.log AND a.idx = f.idx AND a.path = ?",
            Param::Text(arg.path.clone()),
        );
        let (column, p) = match &arg.value {
            ArgValue::Number(n) => ("num", Param::Real(*n)),
            ArgValue::Text(s) => ("text", Param::Text(s.clone())),
        };
        push(&mut sql, &format!(" AND a.{column} {} ?)", arg.op.sql()), p);
    }
    sql.push_str(" ORDER BY l.origin, f.idx");
    if let Some(limit) = filter.limit {
        push(
            &mut sql,
            " LIMIT ?",
            Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
        );
    }
    (sql, params)
}

/// Converts an index or size to the database integer.
pub(crate) fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts a database integer to an index or size.
pub(crate) fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
