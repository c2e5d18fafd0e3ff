//! The suite on PostgreSQL, plus the append-only guarantees of the real
//! server. Each test run uses fresh databases, dropped afterwards. These
//! tests need a server: `WARD_TEST_PG` (a libpq connection string to an
//! administrative database) or, by default, `host=127.0.0.1 user=postgres
//! dbname=postgres`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use postgres::{Client, NoTls};
use ward_audit::{check, forget_payload, PgStore, Store, Writer, WriterConfig};

use crate::common::{continue_migrated_log, key, refund, ticking_clock, v1_dump, Q3};
use crate::suite;

fn admin_conninfo() -> String {
    std::env::var("WARD_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".to_owned())
}

fn conninfo(dbname: &str, user: Option<&str>) -> String {
    let mut parts: Vec<String> = admin_conninfo()
        .split_whitespace()
        .filter(|kv| !(kv.starts_with("dbname=") || (user.is_some() && kv.starts_with("user="))))
        .map(str::to_owned)
        .collect();
    parts.push(format!("dbname={dbname}"));
    if let Some(user) = user {
        parts.push(format!("user={user}"));
    }
    parts.join(" ")
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A database created for one test and dropped with it.
struct TempDb {
    name: String,
}

impl TempDb {
    fn new() -> TempDb {
        let name = unique("ward_audit_test");
        let mut admin = Client::connect(&admin_conninfo(), NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests ({}): {e}",
                admin_conninfo()
            )
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut store = PgStore::connect(&conninfo(&name, None)).unwrap();
        store.install_schema().unwrap();
        TempDb { name }
    }

    fn conninfo(&self) -> String {
        conninfo(&self.name, None)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&admin_conninfo(), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn postgres_store_suite() {
    let dbs: Arc<Mutex<Vec<TempDb>>> = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&dbs);
    suite::run_all(&move || {
        let db = TempDb::new();
        let info = db.conninfo();
        keep.lock().unwrap().push(db);
        Box::new(move || Box::new(PgStore::connect(&info).unwrap()) as Box<dyn Store>)
    });
    drop(dbs);
}

#[test]
fn postgres_log_tables_are_append_only() {
    let db = TempDb::new();
    let role = unique("ward_app");
    let mut owner = Client::connect(&db.conninfo(), NoTls).unwrap();
    owner
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut store = PgStore::connect(&db.conninfo()).unwrap();
        store.grant_app_role(&role).unwrap();
        // The application role can append and read through the writer.
        let app_info = conninfo(&db.name, Some(&role));
        let writer = Writer::start(
            Box::new(PgStore::connect(&app_info).unwrap()),
            key(20),
            ticking_clock(Q3),
            WriterConfig {
                indexed_args: vec!["amount".into()],
                ..WriterConfig::default()
            },
        )
        .unwrap();
        // Eight entries: the first stored Merkle node (level 3) covers eight.
        for n in 0..8 {
            writer
                .append_blocking(refund("acme", n, 700, "allow", Q3))
                .unwrap();
        }
        drop(writer);
        let origin = key(20).origin("acme");
        let mut app_store = PgStore::connect(&app_info).unwrap();
        check(&mut app_store, "acme").unwrap();
        // ...and may erase payloads, which are not part of the log.
        assert!(forget_payload(&mut app_store, &origin, 1).unwrap());

        let mut app = Client::connect(&app_info, NoTls).unwrap();
        for (table, column) in [
            ("audit_entries", "log"),
            ("audit_facets", "log"),
            ("audit_nodes", "log"),
            ("audit_checkpoints", "log"),
            ("audit_logs", "origin"),
            ("audit_rules", "log"),
        ] {
            for stmt in [
                format!("UPDATE {table} SET {column} = {column}"),
                format!("DELETE FROM {table}"),
                format!("TRUNCATE {table}"),
            ] {
                let err = app.batch_execute(&stmt).unwrap_err();
                let msg = err
                    .as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_default();
                assert!(
                    msg.contains("permission denied"),
                    "app role ran `{stmt}`: {msg}"
                );
                // Even the owner is stopped by the triggers.
                let err = owner
                    .batch_execute(&stmt)
                    .expect_err(&format!("the owner ran `{stmt}`"));
                let msg = err
                    .as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_default();
                assert!(msg.contains("append-only"), "owner ran `{stmt}`: {msg}");
            }
        }
        let count: i64 = owner
            .query_one("SELECT COUNT(*) FROM audit_entries", &[])
            .unwrap()
            .get(0);
        assert_eq!(count, 8);
        check(&mut app_store, "acme").unwrap();
    }));
    drop(owner);
    drop(db);
    if let Ok(mut admin) = Client::connect(&admin_conninfo(), NoTls) {
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// The version 1 schema as `install_schema` created it on PostgreSQL
/// (commit 6c2d813), with its append-only triggers.
const V1_SCHEMA: &str = r#"
CREATE TABLE audit_logs (origin TEXT PRIMARY KEY, tenant TEXT NOT NULL, key_name TEXT NOT NULL, verifier_key TEXT NOT NULL);
CREATE TABLE audit_entries (origin TEXT NOT NULL, idx BIGINT NOT NULL, entry BYTEA NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, time TEXT COLLATE "C" NOT NULL, tool TEXT, outcome TEXT, principal TEXT, agent TEXT, decision_id TEXT, PRIMARY KEY (origin, idx));
CREATE INDEX audit_entries_tenant_time ON audit_entries (tenant, time);
CREATE TABLE audit_rules (origin TEXT NOT NULL, idx BIGINT NOT NULL, rule TEXT NOT NULL, PRIMARY KEY (origin, idx, rule));
CREATE INDEX audit_rules_rule ON audit_rules (rule);
CREATE TABLE audit_nodes (origin TEXT NOT NULL, level BIGINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (origin, level, idx));
CREATE TABLE audit_checkpoints (origin TEXT NOT NULL, seq BIGINT NOT NULL, size BIGINT NOT NULL, note TEXT NOT NULL, is_final BIGINT NOT NULL, PRIMARY KEY (origin, seq));
CREATE TABLE audit_payloads (origin TEXT NOT NULL, idx BIGINT NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (origin, idx));
CREATE TABLE audit_arg_index (origin TEXT NOT NULL, idx BIGINT NOT NULL, path TEXT NOT NULL, num DOUBLE PRECISION, text TEXT, PRIMARY KEY (origin, idx, path));
CREATE INDEX audit_arg_index_num ON audit_arg_index (path, num) WHERE num IS NOT NULL;
CREATE INDEX audit_arg_index_text ON audit_arg_index (path, text) WHERE text IS NOT NULL;
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log table % is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$;
CREATE TRIGGER audit_entries_no_rewrite BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_nodes_no_rewrite BEFORE UPDATE OR DELETE ON audit_nodes FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_rewrite BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"#;

/// The v1 fixture (written by the v1 writer, see `sqlite.rs`) copied row by
/// row into a v1 PostgreSQL schema is migrated by `install_schema`, and the
/// migrated log verifies and goes on.
#[test]
fn a_version_1_postgres_schema_is_migrated() {
    let name = unique("ward_audit_v1");
    let mut admin = Client::connect(&admin_conninfo(), NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let db = TempDb { name };
    let mut pg = Client::connect(&db.conninfo(), NoTls).unwrap();
    pg.batch_execute(V1_SCHEMA).unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(&v1_dump()).unwrap();
    for table in [
        "audit_logs",
        "audit_entries",
        "audit_rules",
        "audit_nodes",
        "audit_checkpoints",
        "audit_payloads",
        "audit_arg_index",
    ] {
        copy_table(&lite, &mut pg, table);
    }

    let mut store = PgStore::connect(&db.conninfo()).unwrap();
    store.install_schema().unwrap();
    assert_eq!(check(&mut store, "acme").unwrap()[0].size, 20);
    assert_eq!(check(&mut store, "beta").unwrap()[0].size, 5);
    let hits = store
        .query(&ward_audit::Filter {
            tenant: "acme".into(),
            args: vec!["amount>500".parse().unwrap()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.index).collect::<Vec<_>>(),
        [0, 4, 8, 12, 16]
    );
    // Installing again is a no-op, and the writer continues the log.
    store.install_schema().unwrap();
    continue_migrated_log(Box::new(store));
    let mut store = PgStore::connect(&db.conninfo()).unwrap();
    assert_eq!(check(&mut store, "acme").unwrap()[0].size, 21);
    let left: i64 = pg
        .query_one(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() \
             AND (tablename LIKE '%\\_v1' OR tablename = 'audit_arg_index')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the version 1 tables are gone");
}

/// Copies every row of `table`, converting each SQLite value to the type
/// PostgreSQL expects for its column.
fn copy_table(lite: &rusqlite::Connection, pg: &mut Client, table: &str) {
    use postgres::types::{ToSql, Type};
    use rusqlite::types::Value;
    let mut select = lite.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let columns = select.column_count();
    let marks: Vec<String> = (1..=columns).map(|i| format!("${i}")).collect();
    let insert = pg
        .prepare(&format!(
            "INSERT INTO {table} VALUES ({})",
            marks.join(", ")
        ))
        .unwrap();
    let rows: Vec<Vec<Value>> = select
        .query_map([], |r| (0..columns).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for row in rows {
        let params: Vec<Box<dyn ToSql + Sync>> = row
            .into_iter()
            .zip(insert.params())
            .map(|(value, ty)| -> Box<dyn ToSql + Sync> {
                match (value, ty.clone()) {
                    (Value::Integer(i), _) => Box::new(i),
                    (Value::Real(r), _) => Box::new(r),
                    (Value::Text(t), _) => Box::new(t),
                    (Value::Blob(b), _) => Box::new(b),
                    (Value::Null, Type::FLOAT8) => Box::new(None::<f64>),
                    (Value::Null, _) => Box::new(None::<String>),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        pg.execute(&insert, &refs).unwrap();
    }
}
