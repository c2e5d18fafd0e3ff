//! The suite on PostgreSQL, plus the append-only guarantees of the real
//! server. Each test run uses fresh databases, dropped afterwards. These
//! tests need a server: `WARD_TEST_PG` (a libpq connection string to an
//! administrative database) or, by default, `host=127.0.0.1 user=postgres
//! dbname=postgres`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use postgres::{Client, NoTls};
use ward_audit::{check, forget_payload, PgStore, Store, Writer, WriterConfig};

use crate::common::{key, refund, ticking_clock, Q3};
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
