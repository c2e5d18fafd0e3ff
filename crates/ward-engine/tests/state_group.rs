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

mod sample;

use std::sync::{Arc, Barrier};
use std::thread;

use sample::approval;
use ward_engine::{LimitTake, SqliteState, StateStore};

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
