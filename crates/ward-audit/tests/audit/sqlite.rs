//! The suite on SQLite, plus what only a file can show: tampering under the
//! writer's feet, and corrupt or truncated databases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rusqlite::{params, Connection};
use ward_audit::{
    check, query, ArgFilter, ArgOp, ArgValue, AuditError, Filter, IndexLag, LogAnswer, SqliteStore,
    Store, StoreError, Timestamp, Writer, WriterConfig,
};

use crate::common::{continue_migrated_log, key, refund, ticking_clock, v1_dump, Q3};
use crate::suite;

fn fresh_path(dir: &Path) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    dir.join(format!("audit-{}.db", N.fetch_add(1, Ordering::SeqCst)))
}

#[test]
fn sqlite_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    suite::run_all(&move || {
        let path = fresh_path(&base);
        Box::new(move || Box::new(SqliteStore::open(&path).unwrap()) as Box<dyn Store>)
    });
}

/// A log of 20 entries in 4 batches of 5, for tampering.
fn seeded(dir: &Path) -> PathBuf {
    let path = dir.join("seeded.db");
    let writer = Writer::start(
        Box::new(SqliteStore::open(&path).unwrap()),
        key(9),
        ticking_clock(Q3),
        WriterConfig::default(),
    )
    .unwrap();
    for batch in 0..4u64 {
        std::thread::scope(|s| {
            for i in 0..5 {
                let writer = &writer;
                s.spawn(move || {
                    writer
                        .append_blocking(refund("acme", batch * 5 + i, 10, "allow", Q3))
                        .unwrap()
                });
            }
        });
    }
    drop(writer);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(check(&mut store, "acme").unwrap()[0].size, 20);
    path
}

fn tampered(edit: &dyn Fn(&Connection, &str)) -> AuditError {
    let dir = tempfile::tempdir().unwrap();
    let path = seeded(dir.path());
    let origin = key(9).origin("acme");
    {
        let conn = Connection::open(&path).unwrap();
        edit(&conn, &origin);
    }
    let mut store = SqliteStore::open(&path).unwrap();
    check(&mut store, "acme").unwrap_err()
}

#[test]
fn check_detects_edited_dropped_reordered_and_inserted_entries() {
    let edited = tampered(&|c, o| {
        let e: Vec<u8> = c
            .query_row(
                "SELECT entry FROM audit_entries WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=7",
                [o],
                |r| r.get(0),
            )
            .unwrap();
        let e = String::from_utf8(e)
            .unwrap()
            .replace("\"allow\"", "\"deny\"");
        c.execute(
            "UPDATE audit_entries SET entry=?2 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=7",
            params![o, e.as_bytes()],
        )
        .unwrap();
    });
    assert!(edited.to_string().contains("checkpoint"), "{edited}");

    let dropped_last = tampered(&|c, o| {
        c.execute("DELETE FROM audit_entries WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=19", [o])
            .unwrap();
    });
    assert!(
        dropped_last.to_string().contains("holds 19 entries"),
        "{dropped_last}"
    );

    let dropped_middle = tampered(&|c, o| {
        c.execute("DELETE FROM audit_entries WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=3", [o])
            .unwrap();
        c.execute(
            "UPDATE audit_entries SET idx=idx-1 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx>3",
            [o],
        )
        .unwrap();
    });
    assert!(
        matches!(dropped_middle, AuditError::Inconsistent { .. }),
        "{dropped_middle}"
    );

    let reordered = tampered(&|c, o| {
        c.execute(
            "UPDATE audit_entries SET idx=-1 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=11",
            [o],
        )
        .unwrap();
        c.execute(
            "UPDATE audit_entries SET idx=11 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=12",
            [o],
        )
        .unwrap();
        c.execute(
            "UPDATE audit_entries SET idx=12 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=-1",
            [o],
        )
        .unwrap();
    });
    assert!(
        matches!(reordered, AuditError::Inconsistent { .. }),
        "{reordered}"
    );

    let inserted = tampered(&|c, o| {
        c.execute(
            "UPDATE audit_entries SET idx=idx+100 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx>=4",
            [o],
        )
        .unwrap();
        c.execute(
            "UPDATE audit_entries SET idx=idx-99 WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx>=100",
            [o],
        )
        .unwrap();
        c.execute(
            "INSERT INTO audit_entries (log, idx, entry) \
             SELECT log, 4, entry FROM audit_entries WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=0",
            [o],
        )
        .unwrap();
    });
    assert!(
        matches!(inserted, AuditError::Inconsistent { .. }),
        "{inserted}"
    );

    let node = tampered(&|c, o| {
        c.execute(
            "UPDATE audit_nodes SET hash=zeroblob(32) WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND level=4 AND idx=0",
            [o],
        )
        .unwrap();
    });
    assert!(node.to_string().contains("Merkle node"), "{node}");

    let checkpoint = tampered(&|c, o| {
        c.execute("UPDATE audit_checkpoints SET note=replace(note, char(10)||'10'||char(10), char(10)||'11'||char(10)) WHERE log=(SELECT id FROM audit_logs WHERE origin=?1)", [o])
            .unwrap();
    });
    assert!(
        matches!(checkpoint, AuditError::Inconsistent { .. }),
        "{checkpoint}"
    );
}

#[test]
fn a_writer_refuses_a_log_that_disagrees_with_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = seeded(dir.path());
    {
        let c = Connection::open(&path).unwrap();
        let o = key(9).origin("acme");
        c.execute("DELETE FROM audit_entries WHERE log=(SELECT id FROM audit_logs WHERE origin=?1) AND idx=19", [&o])
            .unwrap();
    }
    let err = Writer::start(
        Box::new(SqliteStore::open(&path).unwrap()),
        key(9),
        ticking_clock(Q3),
        WriterConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, AuditError::Inconsistent { .. }), "{err}");
}

#[test]
fn corrupt_and_truncated_databases_are_reported_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let err = SqliteStore::open(&empty).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("empty.db"), "{err}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&garbage).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("garbage.db"), "{err}");

    let path = seeded(dir.path());
    // Cut the file in half after a checkpoint of the WAL into it.
    {
        let c = Connection::open(&path).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let err = SqliteStore::open(&path).map(|_| ()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("seeded.db"), "{err}");
}

/// The v1 fixture (`common::v1_dump`) is migrated when it is opened.
#[test]
fn a_version_1_database_is_migrated_with_every_entry_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&v1_dump())
        .unwrap();
    let before: Vec<Vec<u8>> = {
        let c = Connection::open(&path).unwrap();
        let mut stmt = c
            .prepare("SELECT entry FROM audit_entries ORDER BY origin, idx")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(before.len(), 25);

    let mut store = SqliteStore::open(&path).unwrap();
    let acme = check(&mut store, "acme").unwrap();
    assert_eq!((acme[0].size, acme.len()), (20, 1));
    assert_eq!(check(&mut store, "beta").unwrap()[0].size, 5);
    let origin = key(9).origin("acme");
    let mut after = store.entries(&origin, 0, 20).unwrap();
    after.extend(store.entries(&key(9).origin("beta"), 0, 5).unwrap());
    assert_eq!(after, before, "entries are copied byte for byte");
    assert!(store.payload(&origin, 3).unwrap().is_some());

    let large = |store: &mut SqliteStore, filter: ward_audit::Filter| {
        ward_audit::query(store, &filter).unwrap()[0]
            .entries
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>()
    };
    let by_rule = ward_audit::Filter {
        tenant: "acme".into(),
        rule: Some("refunds.large".into()),
        ..Default::default()
    };
    let by_amount = ward_audit::Filter {
        tenant: "acme".into(),
        args: vec!["amount>500".parse().unwrap()],
        ..Default::default()
    };
    assert_eq!(large(&mut store, by_rule), [0, 4, 8, 12, 16]);
    assert_eq!(large(&mut store, by_amount), [0, 4, 8, 12, 16]);
    drop(store);

    // The writer continues the migrated log, and reopening does not migrate again.
    continue_migrated_log(Box::new(SqliteStore::open(&path).unwrap()));
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(check(&mut store, "acme").unwrap()[0].size, 21);
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v1' OR name = 'audit_arg_index'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the version 1 tables are gone");
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        err.to_string().contains("schema version 99 is newer"),
        "{err}"
    );
}

/// (index rows, entries) in the file, read past the store.
fn indexed_and_stored(path: &Path) -> (i64, i64) {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM audit_facets), (SELECT COUNT(*) FROM audit_entries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Refunds over two quarters for two tenants, through a writer on `store`.
fn refunds(store: SqliteStore) -> Writer {
    let config = WriterConfig {
        indexed_args: vec!["amount".to_owned()],
        ..WriterConfig::default()
    };
    let writer = Writer::start(Box::new(store), key(3), ticking_clock(Q3), config).unwrap();
    for n in 0..30u64 {
        let time = Q3 - 30 * DAY + n * 6 * DAY;
        let amount = 100 + (n % 4) * 250;
        let outcome = if n % 5 == 0 { "deny" } else { "allow" };
        for tenant in ["acme", "other"] {
            writer
                .append_blocking(refund(tenant, n, amount, outcome, time))
                .unwrap();
        }
    }
    writer
}

const DAY: u64 = 86_400_000;

fn queries() -> Vec<Filter> {
    let acme = || Filter {
        tenant: "acme".into(),
        ..Filter::default()
    };
    vec![
        Filter {
            from: Some(Timestamp::from_unix_millis(Q3)),
            until: Some(Timestamp::from_unix_millis(Q3 + 92 * DAY)),
            outcome: Some("allow".into()),
            tool: Some("refund".into()),
            args: vec![ArgFilter {
                path: "amount".into(),
                op: ArgOp::Gt,
                value: ArgValue::Number(500.0),
            }],
            ..acme()
        },
        Filter {
            rule: Some("refunds.large".into()),
            ..acme()
        },
        Filter {
            principal: Some("u-1".into()),
            limit: Some(3),
            ..acme()
        },
        Filter {
            kind: Some("decision".into()),
            until: Some(Timestamp::from_unix_millis(Q3)),
            ..acme()
        },
        Filter {
            agent: Some("nobody".into()),
            ..acme()
        },
        Filter {
            tenant: "other".into(),
            args: vec!["amount<=100".parse().unwrap()],
            ..Filter::default()
        },
    ]
}

fn answers(path: &Path) -> Vec<Vec<LogAnswer>> {
    let mut reader = SqliteStore::open(path).unwrap();
    queries()
        .iter()
        .map(|f| query(&mut reader, f).unwrap())
        .collect()
}

/// The query index trails the log (`store/trailing.rs`). Whether it holds
/// none, part or all of the entries, a query on another connection finds
/// the same entries and the same bounding checkpoints.
#[test]
fn queries_find_what_the_index_has_not_caught_up_with() {
    let dir = tempfile::tempdir().unwrap();
    let never = IndexLag {
        entries: usize::MAX,
        delay: Duration::MAX,
    };
    let every_seventh = IndexLag {
        entries: 7,
        delay: Duration::MAX,
    };
    let mut seen = Vec::new();
    for (name, lag) in [
        ("none", never),
        ("part", every_seventh),
        ("all", IndexLag::NONE),
    ] {
        let path = dir.path().join(format!("{name}.db"));
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_index_lag(lag);
        let writer = refunds(store);
        let (indexed, stored) = indexed_and_stored(&path);
        assert_eq!(stored, 60);
        let expected = match name {
            "none" => 0,
            "part" => 56,
            _ => 60,
        };
        assert_eq!(indexed, expected, "{name}: rows in the index");
        seen.push(answers(&path));
        // The writer's store writes what waited when it closes.
        drop(writer);
        assert_eq!(indexed_and_stored(&path), (60, 60), "{name}");
        assert_eq!(answers(&path), seen[seen.len() - 1], "{name}: once indexed");
    }
    let all = &seen[2];
    let found: Vec<usize> = all
        .iter()
        .map(|a| a.iter().map(|log| log.entries.len()).sum())
        .collect();
    assert_eq!(found, [6, 14, 3, 5, 0, 8]);
    assert!(all[0][0].lower.is_some() && all[0][0].upper.is_some());
    assert_eq!(seen[0], *all, "nothing indexed");
    assert_eq!(seen[1], *all, "partly indexed");
}

/// A store whose writes leave every entry to the index's tail.
fn never_indexed(path: &Path) -> SqliteStore {
    let mut store = SqliteStore::open(path).unwrap();
    store.set_index_lag(IndexLag {
        entries: usize::MAX,
        delay: Duration::MAX,
    });
    store
}

/// The entries of one log in a period are bounded by that log alone: the
/// unindexed tail of another log, longer and in the same period, does not
/// widen them.
#[test]
fn time_bounds_read_only_their_own_logs_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bounds.db");
    let store = never_indexed(&path);
    let writer = Writer::start(
        Box::new(store),
        key(3),
        ticking_clock(Q3),
        WriterConfig::default(),
    )
    .unwrap();
    for n in 0..5u64 {
        writer
            .append_blocking(refund("acme", n, 100, "allow", Q3 - 10 * DAY + n * DAY))
            .unwrap();
    }
    for n in 0..40u64 {
        writer
            .append_blocking(refund(
                "other",
                n,
                100,
                "allow",
                Q3 - 10 * DAY + n * DAY / 8,
            ))
            .unwrap();
    }
    let mut reader = SqliteStore::open(&path).unwrap();
    let (acme, other) = (key(3).origin("acme"), key(3).origin("other"));
    let day = |d: u64| Some(Timestamp::from_unix_millis(Q3 - 10 * DAY + d * DAY));
    assert_eq!(reader.time_bounds(&acme, None, None).unwrap(), Some((0, 4)));
    assert_eq!(
        reader.time_bounds(&acme, day(1), day(3)).unwrap(),
        Some((1, 2))
    );
    assert_eq!(
        reader.time_bounds(&other, day(1), day(3)).unwrap(),
        Some((8, 23))
    );
    assert_eq!(reader.time_bounds(&acme, day(6), None).unwrap(), None);
    drop(writer);
}

/// A store that stops with index rows waiting (a crash: nothing closes it)
/// leaves them to the next store that commits; queries find the entries
/// meanwhile.
#[test]
fn index_rows_lost_in_a_crash_are_written_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashed.db");
    let store = never_indexed(&path);
    let writer = refunds(store);
    let before = answers(&path);
    // The writer thread keeps the store (and the rows it holds) until the
    // process ends: as after a crash, no one will write them.
    std::mem::forget(writer);
    assert_eq!(indexed_and_stored(&path), (0, 60));
    assert_eq!(answers(&path), before);

    let writer = Writer::start(
        Box::new(SqliteStore::open(&path).unwrap()),
        key(3),
        ticking_clock(Q3 + 200 * DAY),
        WriterConfig::default(),
    )
    .unwrap();
    writer
        .append_blocking(refund("acme", 99, 10, "allow", Q3 + 200 * DAY))
        .unwrap();
    // Its first commit wrote the rows it found waiting, with its own.
    let (indexed, stored) = indexed_and_stored(&path);
    assert_eq!((indexed, stored), (61, 61));
    drop(writer);
    let after = answers(&path);
    // Periods that end before the new entry are answered as before.
    assert_eq!(after[0], before[0]);
    assert_eq!(after[3], before[3]);
    let entries = |a: &[LogAnswer]| a[0].entries.clone();
    assert_eq!(
        entries(&after[1]),
        entries(&before[1]),
        "the new entry is not a large refund"
    );
}
