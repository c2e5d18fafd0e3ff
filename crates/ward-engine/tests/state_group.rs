#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! The SQLite state store commits the writes of concurrent callers
//! together. Each write still stands or fails on its own: all that were
//! answered done are on disk after the store is reopened, and one that
//! SQLite refuses (here, by a trigger the test installs) fails alone,
//! with SQLite's error, while the writes committed beside it stand.
//! Idempotency claims share those groups and stay exclusive; reads do not
//! wait for the writer; checkpoints run off the commit path.

mod sample;

use std::sync::{Arc, Barrier};
use std::thread;

use sample::approval;
use ward_engine::{IdemClaim, LimitTake, SqliteState, StateStore};

const THREADS: usize = 16;
const EACH: usize = 12;

#[test]
fn concurrent_writes_stand_or_fail_each_on_its_own_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let state = Arc::new(SqliteState::open(&path).unwrap());
    // A second connection, as any other SQLite client, installs a trigger
    // that refuses some approvals.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON approvals WHEN NEW.id LIKE 'bad-%'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();

    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (state, barrier) = (Arc::clone(&state), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let mut taken = Vec::new();
                for i in 0..EACH {
                    let id = if i % 4 == 3 {
                        format!("bad-{t}-{i}")
                    } else {
                        format!("apr-{t}-{i}")
                    };
                    let created = state.create_approval(&approval(&id, "acme", 1_000));
                    if id.starts_with("bad-") {
                        let e = created.unwrap_err();
                        assert!(e.to_string().contains("refused by the test"), "{e}");
                    } else {
                        created.unwrap();
                    }
                    // 16 × 12 takes of 1 against a maximum of 100.
                    if let LimitTake::Taken { used } =
                        state.limit_take("tenant:acme", 0, 1.0, 100.0).unwrap()
                    {
                        taken.push(used);
                    }
                }
                taken
            })
        })
        .collect();
    let mut used: Vec<f64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    used.sort_by(f64::total_cmp);
    let expected: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(
        used, expected,
        "every take saw its own total, none past 100"
    );

    drop(state);
    let reopened = SqliteState::open(&path).unwrap();
    let mut ids: Vec<String> = reopened
        .approvals(Some("acme"))
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..THREADS)
        .flat_map(|t| {
            (0..EACH)
                .filter(|i| i % 4 != 3)
                .map(move |i| format!("apr-{t}-{i}"))
        })
        .collect();
    want.sort();
    assert_eq!(ids, want);
    assert!((reopened.limit_used("tenant:acme", 0).unwrap() - 100.0).abs() < f64::EPSILON);
}

/// Claims of one key made at once, inside shared groups: exactly one
/// caller owns the key, every other one sees the owner's digest, and the
/// answer the owner stores is what a reopened store replays.
#[test]
fn concurrent_claims_of_one_key_give_it_to_exactly_one_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let state = Arc::new(SqliteState::open(&path).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (state, barrier) = (Arc::clone(&state), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                // Each thread also claims keys of its own, so that the
                // contended claim shares groups with others.
                for i in 0..EACH {
                    let own = state
                        .idem_claim("acme", &format!("own-{t}-{i}"), "sha256:own", 1_000, 0)
                        .unwrap();
                    assert_eq!(own, IdemClaim::Claimed);
                }
                let digest = format!("sha256:{t}");
                let claim = state
                    .idem_claim("acme", "shared", &digest, 1_000, 0)
                    .unwrap();
                (digest, claim)
            })
        })
        .collect();
    let claims: Vec<(String, IdemClaim)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let owners: Vec<&String> = claims
        .iter()
        .filter(|(_, c)| *c == IdemClaim::Claimed)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(owners.len(), 1, "{claims:?}");
    let owner = owners[0].clone();
    for (_, claim) in &claims {
        if let IdemClaim::Seen {
            request_digest,
            decision,
        } = claim
        {
            assert_eq!(request_digest, &owner);
            assert_eq!(decision, &None, "nothing was stored yet");
        }
    }
    state
        .idem_finish("acme", "shared", "{\"outcome\":\"allow\"}")
        .unwrap();

    drop(state);
    let reopened = SqliteState::open(&path).unwrap();
    assert_eq!(
        reopened
            .idem_claim("acme", "shared", "sha256:later", 2_000, 0)
            .unwrap(),
        IdemClaim::Seen {
            request_digest: owner,
            decision: Some("{\"outcome\":\"allow\"}".into()),
        }
    );
}

/// Reads have a connection of their own: while the writer waits for a
/// lock that another SQLite client holds (as it would wait for a slow
/// flush), a held call can still look up approvals.
#[test]
fn reads_do_not_wait_for_a_write_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let state = Arc::new(SqliteState::open(&path).unwrap());
    state
        .create_approval(&approval("apr-before", "acme", 1_000))
        .unwrap();

    // Another client takes the write lock and keeps it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM limits;")
        .unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let writer = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let created = state.create_approval(&approval("apr-during", "acme", 2_000));
            done_tx.send(()).unwrap();
            created
        })
    };
    // The write is stuck behind the lock (its busy timeout is 5 s).
    assert!(done_rx
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_err());
    let ids: Vec<String> = state
        .approvals(Some("acme"))
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["apr-before"]);
    assert!(state.approval("apr-before").unwrap().is_some());
    assert!(
        done_rx.try_recv().is_err(),
        "the reads were answered while the write still waited"
    );

    other.execute_batch("COMMIT").unwrap();
    writer.join().unwrap().unwrap();
    assert!(state.approval("apr-during").unwrap().is_some());
}

/// The writer does not checkpoint inside its commits; the store's
/// background thread copies the WAL into the database file.
#[test]
fn the_background_checkpointer_copies_the_wal_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let state = SqliteState::open(&path).unwrap();
    let empty = std::fs::metadata(&path).unwrap().len();
    for i in 0..200 {
        state
            .create_approval(&approval(&format!("apr-{i}"), "acme", i))
            .unwrap();
    }
    // Each write wakes the thread; a pass follows within 100 ms of the last.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&path).unwrap().len() == empty {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed into {}",
            path.display()
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(state);
    let reopened = SqliteState::open(&path).unwrap();
    assert_eq!(reopened.approvals(Some("acme")).unwrap().len(), 200);
}
