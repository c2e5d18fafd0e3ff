//! SQL shared by the SQLite and PostgreSQL stores: the schema (with each
//! dialect's type names) and the query builder (with each dialect's
//! placeholders).

use super::{ArgValue, Filter};

/// Column types of one dialect.
pub(crate) struct Types {
    pub(crate) int: &'static str,
    pub(crate) blob: &'static str,
    pub(crate) real: &'static str,
    pub(crate) without_rowid: &'static str,
    pub(crate) text_c: &'static str,
}

/// The append-only log tables.
pub(crate) const LOG_TABLES: [&str; 5] = [
    "audit_logs",
    "audit_entries",
    "audit_rules",
    "audit_nodes",
    "audit_checkpoints",
];

/// The deletable side tables.
pub(crate) const SIDE_TABLES: [&str; 2] = ["audit_payloads", "audit_arg_index"];

/// `CREATE TABLE IF NOT EXISTS` statements, in order.
pub(crate) fn schema(t: &Types) -> Vec<String> {
    let (int, blob, real, wr, text_c) = (t.int, t.blob, t.real, t.without_rowid, t.text_c);
    vec![
        "CREATE TABLE IF NOT EXISTS audit_logs (origin TEXT PRIMARY KEY, tenant TEXT NOT NULL, \
         key_name TEXT NOT NULL, verifier_key TEXT NOT NULL)"
            .to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_entries (origin TEXT NOT NULL, idx {int} NOT NULL, \
             entry {blob} NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, time {text_c} NOT NULL, \
             tool TEXT, outcome TEXT, principal TEXT, agent TEXT, decision_id TEXT, \
             PRIMARY KEY (origin, idx)){wr}"
        ),
        "CREATE INDEX IF NOT EXISTS audit_entries_tenant_time ON audit_entries (tenant, time)"
            .to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_rules (origin TEXT NOT NULL, idx {int} NOT NULL, \
             rule TEXT NOT NULL, PRIMARY KEY (origin, idx, rule)){wr}"
        ),
        "CREATE INDEX IF NOT EXISTS audit_rules_rule ON audit_rules (rule)".to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_nodes (origin TEXT NOT NULL, level {int} NOT NULL, \
             idx {int} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (origin, level, idx)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_checkpoints (origin TEXT NOT NULL, seq {int} NOT NULL, \
             size {int} NOT NULL, note TEXT NOT NULL, is_final {int} NOT NULL, \
             PRIMARY KEY (origin, seq)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_payloads (origin TEXT NOT NULL, idx {int} NOT NULL, \
             payload {blob} NOT NULL, PRIMARY KEY (origin, idx)){wr}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS audit_arg_index (origin TEXT NOT NULL, idx {int} NOT NULL, \
             path TEXT NOT NULL, num {real}, text TEXT, PRIMARY KEY (origin, idx, path)){wr}"
        ),
        // Partial: a value is a number or a text, never both, so each row
        // is written to one of the two indexes. A comparison on `num` (or
        // `text`) implies it is not null, so queries still use them.
        "CREATE INDEX IF NOT EXISTS audit_arg_index_num ON audit_arg_index (path, num) \
         WHERE num IS NOT NULL"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS audit_arg_index_text ON audit_arg_index (path, text) \
         WHERE text IS NOT NULL"
            .to_owned(),
    ]
}

/// A bound query parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

/// Builds the query for a filter; `ph(n)` spells the n-th (1-based) placeholder.
pub(crate) fn build_query(filter: &Filter, ph: fn(usize) -> String) -> (String, Vec<Param>) {
    let mut params = vec![Param::Text(filter.tenant.clone())];
    let mut sql = format!(
        "SELECT e.origin, e.idx, e.entry FROM audit_entries e WHERE e.tenant = {}",
        ph(1)
    );
    let mut push = |sql: &mut String, clause: &str, p: Param| {
        params.push(p);
        sql.push_str(&clause.replace('?', &ph(params.len())));
    };
    if let Some(from) = filter.from {
        push(&mut sql, " AND e.time >= ?", Param::Text(from.to_string()));
    }
    if let Some(until) = filter.until {
        push(&mut sql, " AND e.time < ?", Param::Text(until.to_string()));
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
                &format!(" AND e.{column} = ?"),
                Param::Text(v.clone()),
            );
        }
    }
    if let Some(rule) = &filter.rule {
        push(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM audit_rules r WHERE r.origin = e.origin AND r.idx = e.idx AND r.rule = ?)",
            Param::Text(rule.clone()),
        );
    }
    for arg in &filter.args {
        push(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM audit_arg_index a WHERE a.origin = e.origin AND a.idx = e.idx AND a.path = ?",
            Param::Text(arg.path.clone()),
        );
        let (column, p) = match &arg.value {
            ArgValue::Number(n) => ("num", Param::Real(*n)),
            ArgValue::Text(s) => ("text", Param::Text(s.clone())),
        };
        push(&mut sql, &format!(" AND a.{column} {} ?)", arg.op.sql()), p);
    }
    sql.push_str(" ORDER BY e.origin, e.idx");
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
