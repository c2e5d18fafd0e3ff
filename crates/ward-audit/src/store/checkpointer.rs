//! The background checkpointer of a SQLite file in WAL mode: a thread with
//! its own connection that copies committed WAL frames into the database
//! file. The audit store uses it, and so does the gate's state store
//! (`ward-engine`), which is why it is public.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// WAL frames (about 64 MiB of the audit log's 8 KiB pages) after which the writer's own
/// connection finishes a checkpoint between two batches, so that its next
/// transaction starts the WAL over and the file stays bounded under
/// sustained load. The background thread has copied almost everything by
/// then, so this costs the writer about one batch's pages, now and then.
const WAL_RESET_FRAMES: i64 = 8000;

/// The shortest time between two background checkpoint passes. A pass
/// after every commit (hundreds a second under load) copied the same
/// B-tree pages into the database file over and over, and flushed that
/// file each time: a tenth of the gate's CPU at saturation went to it.
/// 100 ms of WAL at 10,000 entries/s is about a thousand frames, the size
/// of SQLite's own automatic checkpoint.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// A thread with its own connection that copies committed WAL frames into
/// the database file (PASSIVE checkpoints: it never waits for, or blocks,
/// the writer), so commits do not pay for checkpoints. Checkpointing moves
/// data that is already durable in the WAL; it changes nothing about when a
/// commit is durable.
///
/// The writer's connection sets `wal_autocheckpoint=0` once this has
/// started and calls [`Checkpointer::committed`] after each commit.
#[derive(Debug)]
pub struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Frames in the WAL at the end of the last background pass.
    wal_frames: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Checkpointer {
    /// Starts the thread `name` with a connection of its own to `path`;
    /// `None` if either cannot be had (commits then checkpoint as SQLite
    /// does by default).
    pub fn start(path: &Path, name: &str) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let wal_frames = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let frames = std::sync::Arc::clone(&wal_frames);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut due = false;
                loop {
                    if !due && woken.recv().is_err() {
                        return;
                    }
                    let started = std::time::Instant::now();
                    // Row: (busy, frames in the WAL, frames checkpointed). A
                    // failed or busy pass only leaves the WAL longer.
                    if let Ok(n) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                    {
                        frames.store(n, std::sync::atomic::Ordering::Relaxed);
                    }
                    // Commits that land during the pause wait for the next
                    // pass, which then copies each page they touched once.
                    due = false;
                    let until = started + CHECKPOINT_EVERY;
                    loop {
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match woken.recv_timeout(left) {
                            Ok(()) => due = true,
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            wal_frames,
        })
    }

    /// To be called on the writer's connection after each commit: asks
    /// the thread for a pass (at once if none ran in the last 100 ms, else
    /// when that time is up), and when the WAL has grown past
    /// [`WAL_RESET_FRAMES`] checkpoints on `conn` itself, so that its next
    /// transaction starts the WAL over.
    pub fn committed(&self, conn: &Connection) {
        let frames = self.wal_frames.load(std::sync::atomic::Ordering::Relaxed);
        if frames > WAL_RESET_FRAMES {
            // PASSIVE never waits: if the background pass holds the
            // checkpoint lock, this is tried again after the next commit.
            let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            });
            if matches!(done, Ok((0, log, copied)) if log == copied) {
                self.wal_frames
                    .store(0, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if let Some(wake) = &self.wake {
            // Full means a pass is already due: nothing to add.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            drop(thread.join());
        }
    }
}
