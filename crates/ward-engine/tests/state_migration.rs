#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! A state store written by the previous schema (version 1, which kept an
//! approval's request digest only inside its JSON body) opens under this
//! build: its approvals are found by their call, and new ones sit beside
//! them. Run against a real SQLite file and a real PostgreSQL database
//! (see `pg/mod.rs` for the server).

mod pg;
mod sample;

use postgres::NoTls;
use sample::approval;
use ward_engine::{ApprovalRecord, PgState, SqliteState, StateStore};

/// What the upgraded store must show.
fn check(s: &dyn StateStore, old: &ApprovalRecord) {
    let new = approval("apr_new", "acme", 2_000);
    s.create_approval(&new).unwrap();
    assert_eq!(
        s.approvals_for_call("acme", &old.request_digest).unwrap(),
        vec![new, old.clone()]
    );
    assert_eq!(s.approval(&old.id).unwrap().as_ref(), Some(old));
}

#[test]
fn a_version_1_sqlite_store_finds_its_approvals_by_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let old = approval("apr_old", "acme", 1_000);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE approvals (id TEXT PRIMARY KEY, tenant TEXT NOT NULL,
               created_ms INTEGER NOT NULL, body TEXT NOT NULL);
             CREATE INDEX approvals_tenant ON approvals (tenant, created_ms);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO approvals (id, tenant, created_ms, body) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                old.id,
                old.tenant,
                old.created_ms,
                serde_json::to_string(&old).unwrap()
            ],
        )
        .unwrap();
    }
    check(&SqliteState::open(&path).unwrap(), &old);
    // Opening again changes nothing.
    let again = SqliteState::open(&path).unwrap();
    assert_eq!(
        again
            .approvals_for_call("acme", &old.request_digest)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_state_store_of_a_later_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = SqliteState::open(&path).unwrap_err();
    assert!(err.to_string().contains("state schema version 99"), "{err}");
}

#[test]
fn a_version_1_postgres_store_finds_its_approvals_by_call() {
    let db = pg::TempDb::new("ward_state_migration");
    let old = approval("apr_old", "acme", 1_000);
    let mut client = postgres::Client::connect(&db.conninfo(), NoTls).unwrap();
    client
        .batch_execute(
            r#"CREATE TABLE ward_state_meta (one INTEGER PRIMARY KEY CHECK (one = 1),
                 version BIGINT NOT NULL);
               INSERT INTO ward_state_meta VALUES (1, 1);
               CREATE TABLE ward_state_approvals (id TEXT COLLATE "C" PRIMARY KEY,
                 tenant TEXT COLLATE "C" NOT NULL, created_ms BIGINT NOT NULL, body TEXT NOT NULL);"#,
        )
        .unwrap();
    client
        .execute(
            "INSERT INTO ward_state_approvals (id, tenant, created_ms, body) VALUES ($1, $2, $3, $4)",
            &[
                &old.id,
                &old.tenant,
                &old.created_ms,
                &serde_json::to_string(&old).unwrap(),
            ],
        )
        .unwrap();
    check(&PgState::connect(&db.conninfo()).unwrap(), &old);
    let version: i64 = client
        .query_one("SELECT version FROM ward_state_meta", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 2);
    // A second node connecting to the upgraded database changes nothing.
    let again = PgState::connect(&db.conninfo()).unwrap();
    assert_eq!(
        again
            .approvals_for_call("acme", &old.request_digest)
            .unwrap()
            .len(),
        2
    );
}
