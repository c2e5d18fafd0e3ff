//! A PostgreSQL database made for one test and dropped after it. The
//! server comes from `WARD_TEST_PG` (a libpq connection string to an
//! administrative database) or, by default, `host=127.0.0.1 user=postgres
//! dbname=postgres`. Use it outside any tokio runtime: the sync client
//! runs one of its own.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::sync::atomic::{AtomicU32, Ordering};

use postgres::{Client, NoTls};

fn admin_conninfo() -> String {
    std::env::var("WARD_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".to_owned())
}

fn admin() -> Client {
    Client::connect(&admin_conninfo(), NoTls).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for these tests ({}): {e}",
            admin_conninfo()
        )
    })
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
pub(crate) struct TempDb {
    name: String,
}

impl TempDb {
    /// Creates a database named `PREFIX_<pid>_<nanos>_<n>`.
    pub(crate) fn new(prefix: &str) -> TempDb {
        let name = unique(prefix);
        admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        TempDb { name }
    }

    /// The database's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The connection string of the database.
    pub(crate) fn conninfo(&self) -> String {
        let mut parts: Vec<String> = admin_conninfo()
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .map(str::to_owned)
            .collect();
        parts.push(format!("dbname={}", self.name));
        parts.join(" ")
    }

    /// Runs SQL in the database.
    pub(crate) fn execute(&self, sql: &str) {
        Client::connect(&self.conninfo(), NoTls)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }

    /// Ends every server process connected to the database, as a restart
    /// would; how many there were.
    pub(crate) fn terminate_backends(&self) -> i64 {
        admin()
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .unwrap()
            .get(0)
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
