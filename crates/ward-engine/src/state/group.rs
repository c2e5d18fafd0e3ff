//! Group commit for the SQLite state store.
//!
//! With `synchronous=FULL` every commit waits for its own flush, and the
//! store has one connection, so the writes of concurrent decisions (an
//! approval opened by each held call, a limit taken by each permit) queued
//! behind each other's flushes. Sharing the flush is a part of what held
//! calls cost at saturation, not all of it (`docs/benchmarks.md`, *Results,
//! 2026-12-03 17:44*).
//!
//! A write is queued, then the caller takes the connection. Whoever holds
//! it next runs every write queued by then in one transaction, each inside
//! its own savepoint (so one that fails is rolled back alone and reports
//! its own error), commits once and answers them all. A caller that finds
//! its write already done by another just returns its answer. Every answer
//! is sent only once the commit that holds the write is durable, so a
//! write is never reported done and then lost.

use std::sync::mpsc::sync_channel;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::StateError;

/// What to send once the commit's outcome is known: `None` if it is
/// durable, else why not.
type Answer = Box<dyn FnOnce(Option<&StateError>) + Send>;

/// A queued write: runs against the open transaction (or is told why
/// there is none) and gives back its answer, and whether the transaction
/// is still sound (its savepoint could be ended).
type Job =
    Box<dyn FnOnce(Result<&Connection, &StateError>) -> (Answer, Result<(), StateError>) + Send>;

/// The store's connection, and the writes waiting for a group.
pub(super) struct Grouped {
    conn: Mutex<Connection>,
    queue: Mutex<Vec<Job>>,
}

impl std::fmt::Debug for Grouped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped").finish_non_exhaustive()
    }
}

fn poisoned(what: &str) -> StateError {
    StateError(format!("state {what} poisoned"))
}

impl Grouped {
    pub(super) fn new(conn: Connection) -> Grouped {
        Grouped {
            conn: Mutex::new(conn),
            queue: Mutex::new(Vec::new()),
        }
    }

    /// The connection, for reads and for writes that need a transaction
    /// of their own.
    pub(super) fn conn(&self) -> Result<MutexGuard<'_, Connection>, StateError> {
        self.conn.lock().map_err(|_| poisoned("connection"))
    }

    /// Runs `op` in the next group commit and returns its result once that
    /// commit is durable.
    pub(super) fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let (tx, rx) = sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let (result, sound) = match conn {
                Ok(conn) => in_savepoint(conn, op),
                Err(e) => (Err(e.clone()), Ok(())),
            };
            let answer: Answer = Box::new(move |committed: Option<&StateError>| {
                let _ = tx.send(match committed {
                    None => result,
                    Some(e) => Err(e.clone()),
                });
            });
            (answer, sound)
        });
        self.queue
            .lock()
            .map_err(|_| poisoned("write queue"))?
            .push(job);
        {
            // The job was queued before the connection was asked for, so
            // whoever holds it next (this caller or one before it) runs the
            // job before letting go.
            let conn = self.conn()?;
            let jobs =
                std::mem::take(&mut *self.queue.lock().map_err(|_| poisoned("write queue"))?);
            if !jobs.is_empty() {
                run_group(&conn, jobs);
            }
        }
        rx.recv()
            .map_err(|_| StateError("a state write was dropped unanswered".into()))?
    }
}

/// One transaction for all of `jobs`, one commit, then every answer.
fn run_group(conn: &Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = StateError::of(e);
        for job in jobs {
            job(Err(&e)).0(Some(&e));
        }
        return;
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut sound = Ok(());
    for job in jobs {
        let (answer, ok) = match &sound {
            Ok(()) => job(Ok(conn)),
            // A savepoint that could not be ended leaves the transaction
            // in a state nobody knows: the rest is not run, and nothing
            // of the group is committed.
            Err(e) => job(Err(e)),
        };
        answers.push(answer);
        if sound.is_ok() {
            sound = ok;
        }
    }
    let committed = sound.and_then(|()| conn.execute_batch("COMMIT").map_err(StateError::of));
    if committed.is_err() {
        // Best effort: a failed COMMIT may leave the transaction open.
        let _ = conn.execute_batch("ROLLBACK");
    }
    let failed = committed.err();
    for answer in answers {
        answer(failed.as_ref());
    }
}

/// Runs `op` inside a savepoint: if it fails, what it wrote is undone and
/// the rest of the group stands. The second value is an error if the
/// savepoint could not be ended, and the transaction must not commit.
fn in_savepoint<T>(
    conn: &Connection,
    op: impl FnOnce(&Connection) -> Result<T, StateError>,
) -> (Result<T, StateError>, Result<(), StateError>) {
    if let Err(e) = conn.execute_batch("SAVEPOINT ward_write") {
        // Nothing was written: the group stands without this write.
        return (Err(StateError::of(e)), Ok(()));
    }
    let result = op(conn);
    let end = if result.is_ok() {
        "RELEASE ward_write"
    } else {
        "ROLLBACK TO ward_write; RELEASE ward_write"
    };
    let ended = conn.execute_batch(end).map_err(StateError::of);
    (result, ended)
}
