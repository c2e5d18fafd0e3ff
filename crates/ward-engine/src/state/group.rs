//! Group commit for the SQLite state store.
//!
//! With `synchronous=FULL` every commit waits for its own flush, and the
//! store has one writer connection, so the writes of concurrent decisions
//! (an approval opened by each held call, a limit taken by each permit, an
//! idempotency key claimed) queued behind each other's flushes.
//!
//! A write is queued, then the caller takes the connection. Whoever holds
//! it next runs every write queued by then in one transaction, each inside
//! its own savepoint (so one that fails is rolled back alone and reports
//! its own error), commits once and answers them all. A caller that finds
//! its write already done by another just returns its answer.
//!
//! A write is [`Flush::Before`] its answer or [`Flush::Later`]. A group
//! with any `Before` write is answered once it is flushed to disk, so such
//! a write is never reported done and then lost. A group of `Later` writes
//! is answered once it is committed: it survives the process, not the
//! machine, until the next flushed commit, which makes it durable too,
//! since the WAL is written in order. An idempotency
//! claim is `Later`: it must be seen at once by a concurrent request with
//! the same key, but it answers nobody until the decision's answer is
//! stored, and that store is `Before`.
//!
//! The flush is made after the connection is let go: the group commits
//! with `synchronous=NORMAL` and its leader then flushes the WAL file
//! itself (`fdatasync`, as FULL would have inside the commit), so the next
//! group, and every `Later` write, need not wait for it. One flush covers
//! every group committed before it began: a leader that finds such a flush
//! done since its commit answers without one of its own. (Held calls open
//! their approvals one by one, each its own group, so without this every
//! approval cost a flush of its own.) A flush that fails
//! leaves nothing after the last good one known to be on disk: every write
//! from then on is refused until the store is opened again. Checkpoints
//! run on a thread of their own ([`Checkpointer`]), not inside a commit.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Mutex, MutexGuard, OnceLock};

use rusqlite::Connection;
use ward_audit::Checkpointer;

use super::StateError;

/// What to send once the commit's outcome is known: `None` if it is
/// durable, else why not.
type Answer = Box<dyn FnOnce(Option<&StateError>) + Send>;

/// A queued write: runs against the open transaction (or is told why
/// there is none) and gives back its answer, and whether the transaction
/// is still sound (its savepoint could be ended).
type Job =
    Box<dyn FnOnce(Result<&Connection, &StateError>) -> (Answer, Result<(), StateError>) + Send>;

/// Whether a write is on disk before it is answered (see the module note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    Before,
    Later,
}

/// The writer connection, and the `synchronous` mode it is in.
struct Writer {
    conn: Connection,
    flushes: bool,
}

impl Writer {
    /// Makes the commits from now on flush inside (`Before`: FULL) or not
    /// (`Later`: NORMAL).
    fn sync_mode(&mut self, flush: Flush) -> Result<(), StateError> {
        let wanted = flush == Flush::Before;
        if self.flushes != wanted {
            let mode = if wanted { "FULL" } else { "NORMAL" };
            self.conn
                .execute_batch(&format!("PRAGMA synchronous={mode}"))
                .map_err(StateError::of)?;
            self.flushes = wanted;
        }
        Ok(())
    }
}

/// The store's writer connection, and the writes waiting for a group.
pub(super) struct Grouped {
    writer: Mutex<Writer>,
    queue: Mutex<Vec<(Flush, Job)>>,
    /// Copies the WAL into the file off the commit path, when it could be
    /// started.
    checkpointer: Option<Checkpointer>,
    /// The WAL file, flushed by a group's leader after the commit; `None`
    /// if it could not be opened, and then commits flush inside.
    wal: Option<std::fs::File>,
    /// Why writes are refused, once a flush has failed.
    broken: OnceLock<StateError>,
    /// Groups committed so far, counted while the connection is held: a
    /// flush begun after reading N covers the first N.
    commits: AtomicU64,
    /// How many groups are known flushed. Held across a flush and the look
    /// at `broken` before it, so that a flush after a failed one never
    /// reports success: the WAL's frames chain, and frames after lost ones
    /// are lost with them.
    flushing: Mutex<u64>,
    /// `fdatasync` calls made, for the tests.
    #[cfg(test)]
    syncs: AtomicU64,
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
    /// Takes `conn` (open on `path`, in WAL mode) as the store's one
    /// writer, with a background checkpointer if one can be started.
    pub(super) fn new(conn: Connection, path: &Path) -> Result<Grouped, StateError> {
        let checkpointer = Checkpointer::start(path, "ward-state-checkpoint");
        if checkpointer.is_some() {
            // From now on the checkpointer thread checkpoints, not commits.
            conn.execute_batch("PRAGMA wal_autocheckpoint=0")
                .map_err(StateError::of)?;
        }
        let mut writer = Writer {
            conn,
            flushes: false,
        };
        writer.sync_mode(Flush::Before)?;
        // The schema's commit created the WAL, which lives in place as long
        // as the connections do: SQLite restarts it, never replaces it.
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal = std::fs::File::open(wal_path).ok();
        Ok(Grouped {
            writer: Mutex::new(writer),
            queue: Mutex::new(Vec::new()),
            checkpointer,
            wal,
            broken: OnceLock::new(),
            commits: AtomicU64::new(0),
            flushing: Mutex::new(0),
            #[cfg(test)]
            syncs: AtomicU64::new(0),
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, Writer>, StateError> {
        self.writer.lock().map_err(|_| poisoned("connection"))
    }

    /// Runs `op` on the connection at once, outside any group, with a
    /// flush: for the writes that are rare (records an operator puts).
    pub(super) fn write_alone<T>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut writer = self.writer()?;
        if let Some(e) = self.broken.get() {
            return Err(e.clone());
        }
        writer.sync_mode(Flush::Before)?;
        let result = op(&mut writer.conn);
        self.committed(&writer.conn);
        result
    }

    fn committed(&self, conn: &Connection) {
        if let Some(c) = &self.checkpointer {
            c.committed(conn);
        }
    }

    /// Runs `op` in the next group commit and returns its result once that
    /// commit is done, and flushed if `flush` is [`Flush::Before`].
    pub(super) fn write<T: Send + 'static>(
        &self,
        flush: Flush,
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
            .push((flush, job));
        let group = {
            // The job was queued before the connection was asked for, so
            // whoever holds it next (this caller or one before it) runs the
            // job before letting go.
            let mut writer = self.writer()?;
            let jobs =
                std::mem::take(&mut *self.queue.lock().map_err(|_| poisoned("write queue"))?);
            (!jobs.is_empty()).then(|| {
                let group = self.run(&mut writer, jobs);
                // Counted before the connection is let go, so a count read
                // by a flush takes in only commits written to the WAL.
                (group, self.commits.fetch_add(1, Ordering::AcqRel) + 1)
            })
        };
        if let Some(((answers, flush, mut failed), commit)) = group {
            // The connection is free again: the next group commits while
            // this one's flush runs.
            if let (None, Flush::Before, Some(wal)) = (&failed, flush, &self.wal) {
                failed = self.flush_wal(wal, commit).err();
            }
            for answer in answers {
                answer(failed.as_ref());
            }
        }
        rx.recv()
            .map_err(|_| StateError("a state write was dropped unanswered".into()))?
    }
}

impl Grouped {
    /// Makes the group counted `commit` durable: flushes the WAL file,
    /// unless a flush begun after that commit has succeeded already, or
    /// one has failed before.
    fn flush_wal(&self, wal: &std::fs::File, commit: u64) -> Result<(), StateError> {
        let mut flushed = self.flushing.lock().map_err(|_| poisoned("flush"))?;
        if let Some(e) = self.broken.get() {
            return Err(e.clone());
        }
        if *flushed >= commit {
            return Ok(());
        }
        let upto = self.commits.load(Ordering::Acquire);
        #[cfg(test)]
        self.syncs.fetch_add(1, Ordering::Relaxed);
        wal.sync_data().map_err(|e| {
            let e = StateError(format!(
                "cannot flush the state store's write-ahead log ({e}); \
                 it refuses writes until it is opened again"
            ));
            self.broken.get_or_init(|| e).clone()
        })?;
        *flushed = upto;
        Ok(())
    }

    /// Commits `jobs` as one group on `writer`. Returns their answers, the
    /// flush they still need, and why they failed (then they need none).
    fn run(
        &self,
        writer: &mut Writer,
        jobs: Vec<(Flush, Job)>,
    ) -> (Vec<Answer>, Flush, Option<StateError>) {
        let flush = if jobs.iter().any(|(f, _)| *f == Flush::Before) {
            Flush::Before
        } else {
            Flush::Later
        };
        let jobs = jobs.into_iter().map(|(_, job)| job);
        if let Some(e) = self.broken.get() {
            return refused(jobs, e.clone());
        }
        // With the WAL file at hand, the flush is made after the commit.
        let inside = match (flush, &self.wal) {
            (Flush::Before, None) => Flush::Before,
            _ => Flush::Later,
        };
        if let Err(e) = writer.sync_mode(inside) {
            return refused(jobs, e);
        }
        let (answers, failed) = run_group(&writer.conn, jobs);
        self.committed(&writer.conn);
        let after = if inside == Flush::Before {
            Flush::Later
        } else {
            flush
        };
        (answers, after, failed)
    }
}

/// The answers of `jobs`, none of them run, failed with `e`.
fn refused(
    jobs: impl Iterator<Item = Job>,
    e: StateError,
) -> (Vec<Answer>, Flush, Option<StateError>) {
    let answers = jobs.map(|job| job(Err(&e)).0).collect();
    (answers, Flush::Later, Some(e))
}

/// One transaction for all of `jobs`, one commit. Returns their answers,
/// and why the commit failed.
fn run_group(
    conn: &Connection,
    jobs: impl Iterator<Item = Job>,
) -> (Vec<Answer>, Option<StateError>) {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        let e = StateError::of(e);
        return (jobs.map(|job| job(Err(&e)).0).collect(), Some(e));
    }
    let mut answers = Vec::new();
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
    let committed = sound.and_then(|()| control(conn, "COMMIT").map_err(StateError::of));
    if committed.is_err() {
        // Best effort: a failed COMMIT may leave the transaction open.
        let _ = conn.execute_batch("ROLLBACK");
    }
    (answers, committed.err())
}

/// Runs `op` inside a savepoint: if it fails, what it wrote is undone and
/// the rest of the group stands. The second value is an error if the
/// savepoint could not be ended, and the transaction must not commit.
fn in_savepoint<T>(
    conn: &Connection,
    op: impl FnOnce(&Connection) -> Result<T, StateError>,
) -> (Result<T, StateError>, Result<(), StateError>) {
    if let Err(e) = control(conn, "SAVEPOINT ward_write") {
        // Nothing was written: the group stands without this write.
        return (Err(StateError::of(e)), Ok(()));
    }
    let result = op(conn);
    let ended = if result.is_ok() {
        control(conn, "RELEASE ward_write")
    } else {
        conn.execute_batch("ROLLBACK TO ward_write; RELEASE ward_write")
    };
    (result, ended.map_err(StateError::of))
}

/// Runs a transaction-control statement through the statement cache, so
/// that the two a commit runs and the two each write runs are not parsed
/// anew every time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(v: i64) -> impl FnOnce(&Connection) -> Result<usize, StateError> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(StateError::of)
        }
    }

    /// A store whose WAL handle is a pipe: `fdatasync` on a pipe fails
    /// (EINVAL), as a flush to a failing disk does.
    fn failing_flush(path: &Path) -> Grouped {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let mut grouped = Grouped::new(conn, path).unwrap();
        assert!(grouped.wal.is_some(), "the WAL file was opened");
        let (pipe, _other_end) = std::io::pipe().unwrap();
        grouped.wal = Some(std::fs::File::from(std::os::fd::OwnedFd::from(pipe)));
        grouped
    }

    /// The rows of `t`, read through a connection of its own.
    fn rows(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn one_flush_answers_every_group_committed_before_it_began() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let grouped = std::sync::Arc::new(Grouped::new(conn, &path).unwrap());
        // A flush in progress, as on a slow disk: each write below commits
        // in a group of its own (the last one's row is seen before the next
        // is sent) and then waits for it.
        let held = grouped.flushing.lock().unwrap();
        let mut writers = Vec::new();
        for v in 1..=5 {
            let g = std::sync::Arc::clone(&grouped);
            writers.push(std::thread::spawn(move || {
                g.write(Flush::Before, insert(v))
            }));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while rows(&path) < v {
                assert!(
                    std::time::Instant::now() < deadline,
                    "write {v} never committed"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        assert_eq!(grouped.commits.load(Ordering::Acquire), 5, "five groups");
        drop(held);
        for w in writers {
            assert_eq!(w.join().unwrap().unwrap(), 1);
        }
        // The first leader to flush took in all five commits.
        assert_eq!(grouped.syncs.load(Ordering::Relaxed), 1);
        // A write committed after that flush needs one of its own.
        grouped.write(Flush::Before, insert(6)).unwrap();
        assert_eq!(grouped.syncs.load(Ordering::Relaxed), 2);
        // A write that needs none makes none.
        grouped.write(Flush::Later, insert(7)).unwrap();
        assert_eq!(grouped.syncs.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn after_a_failed_flush_every_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let grouped = failing_flush(&path);
        // A write that needs no flush of its own is not affected.
        grouped.write(Flush::Later, insert(1)).unwrap();
        let e = grouped.write(Flush::Before, insert(2)).unwrap_err();
        assert!(e.to_string().contains("cannot flush"), "{e}");
        // From then on every write is refused, whichever kind, and runs
        // nothing.
        for flush in [Flush::Later, Flush::Before] {
            let e = grouped.write(flush, insert(3)).unwrap_err();
            assert!(e.to_string().contains("refuses writes"), "{e}");
        }
        let e = grouped.write_alone(|c| insert(4)(c)).unwrap_err();
        assert!(e.to_string().contains("refuses writes"), "{e}");
        // 2 was committed and only its flush failed; a write reported
        // failed may be there (each such write only makes the gate stricter:
        // an extra pending approval, a limit counted).
        let writer = grouped.writer().unwrap();
        let mut stmt = writer.conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        let values: Vec<i64> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(values, [1, 2]);
    }
}
