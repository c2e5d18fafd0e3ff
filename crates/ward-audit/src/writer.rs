//! The group-commit writer.
//!
//! Callers submit entries and wait for their receipt. A dedicated thread
//! takes every submission queued so far (up to `max_batch`), appends them to
//! their tenants' trees in memory, and commits the whole batch as one store
//! transaction together with one signed checkpoint per tenant that grew.
//! Batching is adaptive: the next batch starts as soon as the previous
//! commit returns, with whatever queued meanwhile, so an idle log commits a
//! lone entry at once and a busy one commits larger batches, without a
//! fixed sleep. A non-zero `window` adds a gathering delay after the first
//! submission of a batch (tests use it to force entries into one batch).
//!
//! The signatures are computed before the commit, but no receipt is
//! released before its batch is durable. The writer commits through
//! [`Store::commit_unsynced`] and hands the receipts, with the store's
//! [`Syncer`], to a release thread, which flushes the file once for every
//! batch queued so far and only then answers their callers; meanwhile the
//! writer builds and commits the next batch. A store without a syncer
//! (PostgreSQL) is durable when its commit returns. Entries submitted with
//! [`Writer::append_together`] always share a batch, so they cost one wait.
//!
//! If a commit fails, every waiter of the batch gets the error and the
//! writer reloads its state from the store before the next batch. If a
//! flush fails, nothing after the last good flush can be known to be on
//! disk (the kernel may have dropped the pages it could not write): every
//! waiter from then on gets the error, and the writer refuses all further
//! appends until it is restarted and reloads from what the disk holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::append::AppendRequest;
use crate::entry::{Entry, PreviousLog, RotationStatement, Statement, V1};
use crate::error::AuditError;
use crate::merkle::{self, Frontier, Hash, NodeId};
use crate::note::{root_base64, Checkpoint, LogKey, Receipt, SignedCheckpoint, VerifierKey};
use crate::store::{
    ArgValue, Batch, CheckpointRow, EntryRow, LogAppend, LogInfo, Store, StoreError, Syncer,
};
use crate::time::Timestamp;

/// The writer's clock, injected so tests and replays control time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How the writer batches and what it indexes.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// How long to gather submissions after the first one of a batch. Zero
    /// (the default) is adaptive group commit: commit at once with whatever
    /// has queued while the previous batch was committing.
    pub window: Duration,
    /// The most entries in one batch.
    pub max_batch: usize,
    /// Dotted argument paths (e.g. `amount`, `refund.currency`) whose values
    /// are copied into the query index at write time.
    pub indexed_args: Vec<String>,
    /// Whether logs left open under another key of the same name are closed
    /// and continued under this key (key rotation, §7 of the format).
    pub rotate: bool,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            window: Duration::ZERO,
            max_batch: 1024,
            indexed_args: Vec::new(),
            rotate: false,
        }
    }
}

enum Reply {
    Async(tokio::sync::oneshot::Sender<Result<Receipt, AuditError>>),
    Blocking(mpsc::SyncSender<Result<Receipt, AuditError>>),
}

impl Reply {
    fn send(self, result: Result<Receipt, AuditError>) {
        // A caller that stopped waiting does not stop the others.
        match self {
            Reply::Async(tx) => drop(tx.send(result)),
            Reply::Blocking(tx) => drop(tx.send(result)),
        }
    }
}

/// The receipts (or errors) of one committed batch, released to their
/// callers once the batch is durable.
struct Release {
    syncer: Option<Syncer>,
    replies: Vec<(Reply, Result<Receipt, AuditError>)>,
}

/// Why the log stopped taking appends, once a flush has failed.
type Failure = Arc<Mutex<Option<String>>>;

fn failure(failed: &Failure) -> Option<String> {
    match failed.lock() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn not_durable(message: &str) -> AuditError {
    AuditError::Store(StoreError::Database {
        path: "audit store".to_owned(),
        message: format!(
            "{message}; nothing after the last flushed batch is known to be on disk, \
             so the log takes no more entries until the writer is restarted"
        ),
    })
}

/// The release thread: takes every batch queued so far, flushes each file
/// they were committed to once, and then answers their callers.
fn release(rx: &mpsc::Receiver<Release>, failed: &Failure) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        group.extend(rx.try_iter());
        let mut error = failure(failed);
        if error.is_none() {
            let mut flushed: Vec<&Syncer> = Vec::new();
            for syncer in group.iter().filter_map(|r| r.syncer.as_ref()) {
                if flushed.iter().any(|f| f.same_file(syncer)) {
                    continue;
                }
                if let Err(e) = syncer.sync() {
                    let message = e.to_string();
                    match failed.lock() {
                        Ok(mut guard) => *guard = Some(message.clone()),
                        Err(poisoned) => *poisoned.into_inner() = Some(message.clone()),
                    }
                    error = Some(message);
                    break;
                }
                flushed.push(syncer);
            }
        }
        for batch in group {
            for (reply, result) in batch.replies {
                reply.send(match &error {
                    None => result,
                    Some(message) => Err(not_durable(message)),
                });
            }
        }
    }
}

struct Pending {
    row: EntryRow,
    tenant: String,
    reply: Reply,
}

/// What callers send the writer thread: one entry, or entries that must
/// share a batch (and so one commit and one flush).
#[expect(
    clippy::large_enum_variant,
    reason = "the channel carried a Pending by value before; boxing it would allocate for every append"
)]
enum Submission {
    One(Pending),
    Together(Vec<Pending>),
}

impl Submission {
    fn into_batch(self, batch: &mut Vec<Pending>) {
        match self {
            Submission::One(p) => batch.push(p),
            Submission::Together(ps) => batch.extend(ps),
        }
    }
}

/// A handle on the writer thread. Dropping it (or [`Writer::shutdown`])
/// lets the thread finish the batches already submitted and stop.
#[derive(Debug)]
pub struct Writer {
    tx: Option<mpsc::Sender<Submission>>,
    thread: Option<JoinHandle<()>>,
    indexed_args: Arc<Vec<String>>,
    verifier: VerifierKey,
}

impl Writer {
    /// Opens the logs of `key` in `store` (verifying each against its last
    /// checkpoint, and rotating logs of an older key if allowed) and starts
    /// the writer thread.
    pub fn start(
        mut store: Box<dyn Store>,
        key: LogKey,
        clock: Clock,
        config: WriterConfig,
    ) -> Result<Writer, AuditError> {
        let logs = open_logs(store.as_mut(), &key, &clock, config.rotate)?;
        let (tx, rx) = mpsc::channel();
        let verifier = key.verifier();
        let indexed_args = Arc::new(config.indexed_args.clone());
        let thread_err = |name: &str, e: std::io::Error| AuditError::Io {
            path: format!("{name} thread"),
            message: e.to_string(),
        };
        let failed: Failure = Arc::default();
        let (release_tx, release_rx) = mpsc::channel();
        let released = Arc::clone(&failed);
        let releaser = std::thread::Builder::new()
            .name("ward-audit-release".to_owned())
            .spawn(move || release(&release_rx, &released))
            .map_err(|e| thread_err("ward-audit-release", e))?;
        let mut state = WriterState {
            store,
            key,
            logs,
            stale: false,
            release: release_tx,
            failed,
        };
        let window = config.window;
        let max_batch = config.max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("ward-audit-writer".to_owned())
            .spawn(move || {
                state.run(&rx, window, max_batch);
                // Closing the release channel lets the release thread answer
                // what is queued and stop.
                drop(state);
                drop(releaser.join());
            })
            .map_err(|e| thread_err("ward-audit-writer", e))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            indexed_args,
            verifier,
        })
    }

    /// The verifier key of the writer's signing key.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    fn submit(&self, request: AppendRequest, reply: Reply) -> Result<(), AuditError> {
        let pending = self.pending(request, reply)?;
        self.send(Submission::One(pending))
    }

    fn send(&self, submission: Submission) -> Result<(), AuditError> {
        self.tx
            .as_ref()
            .ok_or(AuditError::WriterClosed)?
            .send(submission)
            .map_err(|_| AuditError::WriterClosed)
    }

    fn pending(&self, request: AppendRequest, reply: Reply) -> Result<Pending, AuditError> {
        let entry = request.entry;
        if matches!(entry.statement(), Statement::Rotation(_)) {
            return Err(AuditError::RotationEntry);
        }
        let facets = entry.facets();
        let (payload, args) = match (&request.args, request.payload) {
            (Some(args), Some(payload)) => {
                debug_assert_eq!(
                    ward_core::to_canonical_json(args).ok().as_ref(),
                    Some(&payload)
                );
                (Some(payload), index_args(args, &self.indexed_args))
            }
            (Some(args), None) => (
                Some(ward_core::to_canonical_json(args).map_err(|e| {
                    AuditError::Entry(crate::entry::EntryError::Canonical(e.to_string()))
                })?),
                index_args(args, &self.indexed_args),
            ),
            (None, _) => (None, Vec::new()),
        };
        Ok(Pending {
            tenant: entry.tenant().to_owned(),
            row: EntryRow {
                index: 0,
                bytes: entry.bytes().to_vec(),
                kind: facets.kind.to_owned(),
                time: facets.time,
                tool: facets.tool,
                outcome: facets.outcome.map(str::to_owned),
                principal: facets.principal,
                agent: facets.agent,
                decision_id: facets.decision_id,
                rules: facets.rules,
                payload,
                args,
            },
            reply,
        })
    }

    /// Appends an entry and waits, without blocking the runtime, until it is
    /// durable and signed.
    pub async fn append(&self, request: impl Into<AppendRequest>) -> Result<Receipt, AuditError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(request.into(), Reply::Async(tx))?;
        rx.await.map_err(|_| AuditError::WriterClosed)?
    }

    /// Appends entries in one batch, so that they share one commit and one
    /// flush, and waits until they are durable and signed: one wait where
    /// appending them one after another would take one per entry. The
    /// receipts come back in the order of `requests`. A commit is all or
    /// nothing, so the entries are stored together or not at all; if an
    /// entry is refused before it is submitted, none is.
    pub async fn append_together(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Receipt>, AuditError> {
        if requests.is_empty() {
            // Nothing to wait for, and no empty batch for the writer.
            return Ok(Vec::new());
        }
        let mut pendings = Vec::with_capacity(requests.len());
        let mut replies = Vec::with_capacity(requests.len());
        for request in requests {
            let (tx, rx) = tokio::sync::oneshot::channel();
            pendings.push(self.pending(request, Reply::Async(tx))?);
            replies.push(rx);
        }
        self.send(Submission::Together(pendings))?;
        let mut receipts = Vec::with_capacity(replies.len());
        for rx in replies {
            receipts.push(rx.await.map_err(|_| AuditError::WriterClosed)??);
        }
        Ok(receipts)
    }

    /// Appends an entry and blocks the calling thread until it is durable
    /// and signed. Do not call from inside an async task.
    pub fn append_blocking(
        &self,
        request: impl Into<AppendRequest>,
    ) -> Result<Receipt, AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(request.into(), Reply::Blocking(tx))?;
        rx.recv().map_err(|_| AuditError::WriterClosed)?
    }

    /// Stops accepting entries, lets the thread finish, and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            drop(thread.join());
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies the declared argument paths' scalar values for the query index.
fn index_args(args: &Map<String, Value>, paths: &[String]) -> Vec<(String, ArgValue)> {
    let mut out = Vec::new();
    for path in paths {
        let mut parts = path.split('.');
        let Some(first) = parts.next() else { continue };
        let mut value = args.get(first);
        for part in parts {
            value = value.and_then(|v| v.get(part));
        }
        let indexed = match value {
            Some(Value::Number(n)) => n.as_f64().map(ArgValue::Number),
            Some(Value::String(s)) => Some(ArgValue::Text(s.clone())),
            Some(Value::Bool(b)) => Some(ArgValue::Text(b.to_string())),
            _ => None,
        };
        if let Some(v) = indexed {
            out.push((path.clone(), v));
        }
    }
    out
}

/// An open log of the writer's key.
#[derive(Debug, Clone)]
struct OpenLog {
    info: LogInfo,
    frontier: Frontier,
    /// Whether the store has no row for it yet.
    is_new: bool,
}

struct WriterState {
    store: Box<dyn Store>,
    key: LogKey,
    /// Open logs by tenant.
    logs: HashMap<String, OpenLog>,
    /// Set after a failed commit: the store may hold more than memory says.
    stale: bool,
    /// To the release thread.
    release: mpsc::Sender<Release>,
    /// Set by the release thread when a flush failed.
    failed: Failure,
}

fn inconsistent(origin: &str, message: impl Into<String>) -> AuditError {
    AuditError::Inconsistent {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

/// Loads the frontier of a stored log and checks it against the log's last
/// checkpoint, so a truncated or edited store is caught before any append.
fn load_log(
    store: &mut dyn Store,
    origin: &str,
    size: u64,
    key: &VerifierKey,
) -> Result<(Frontier, Option<SignedCheckpoint>), AuditError> {
    let ids = merkle::frontier_ids(size);
    let hashes = store.nodes(origin, &ids)?;
    let mut stored = hashes.into_iter();
    let frontier = Frontier::load(size, &mut |_id: NodeId| {
        stored
            .next()
            .ok_or_else(|| inconsistent(origin, "missing frontier node"))
    })?;
    let last = store.checkpoints(origin)?.pop();
    let Some(last) = last else {
        return Err(inconsistent(origin, "the log has no checkpoint"));
    };
    let signed = SignedCheckpoint::parse(&last.note)?;
    signed.verify_signature(key)?;
    let cp = signed.checkpoint();
    if cp.size != size || cp.root != frontier.root() || cp.origin != origin {
        return Err(inconsistent(
            origin,
            format!(
                "stored tree of size {size} does not match its last checkpoint of size {}",
                cp.size
            ),
        ));
    }
    Ok((frontier, Some(signed)))
}

fn open_logs(
    store: &mut dyn Store,
    key: &LogKey,
    clock: &Clock,
    rotate: bool,
) -> Result<HashMap<String, OpenLog>, AuditError> {
    let mut open = HashMap::new();
    let mut rotations = Batch::default();
    let mut rotated = Vec::new();
    for log in store.logs()? {
        if log.info.key_name != key.name() || log.closed {
            continue;
        }
        let origin = log.info.origin.clone();
        if origin == key.origin(&log.info.tenant) {
            let (frontier, _) = load_log(store, &origin, log.size, &key.verifier())?;
            open.insert(
                log.info.tenant.clone(),
                OpenLog {
                    info: log.info,
                    frontier,
                    is_new: false,
                },
            );
            continue;
        }
        if !rotate {
            return Err(AuditError::KeyMismatch { origin });
        }
        let old_key: VerifierKey = log.info.verifier_key.parse()?;
        let (frontier, last) = load_log(store, &origin, log.size, &old_key)?;
        let Some(last) = last else { continue };
        let final_checkpoint = last.countersign(key);
        rotations.logs.push(LogAppend {
            origin: origin.clone(),
            create: None,
            entries: Vec::new(),
            nodes: Vec::new(),
            checkpoints: vec![CheckpointRow {
                size: log.size,
                note: final_checkpoint.text().to_owned(),
                is_final: true,
            }],
        });
        let tenant = log.info.tenant.clone();
        let entry = Entry::new(Statement::Rotation(RotationStatement {
            v: V1,
            tenant: tenant.clone(),
            time: clock().to_string(),
            previous: PreviousLog {
                origin: origin.clone(),
                size: log.size,
                root: root_base64(&frontier.root()),
                key: log.info.verifier_key.clone(),
            },
        }))?;
        let mut new_frontier = Frontier::empty();
        let nodes = new_frontier.append(entry.leaf_hash());
        let new_origin = key.origin(&tenant);
        let info = LogInfo {
            origin: new_origin.clone(),
            tenant: tenant.clone(),
            key_name: key.name().to_owned(),
            verifier_key: key.verifier().to_string(),
        };
        let cp = Checkpoint {
            origin: new_origin.clone(),
            size: 1,
            root: new_frontier.root(),
        }
        .sign(key);
        let facets = entry.facets();
        rotations.logs.push(LogAppend {
            origin: new_origin,
            create: Some(info.clone()),
            entries: vec![EntryRow {
                index: 0,
                bytes: entry.bytes().to_vec(),
                kind: facets.kind.to_owned(),
                time: facets.time,
                tool: None,
                outcome: None,
                principal: None,
                agent: None,
                decision_id: None,
                rules: Vec::new(),
                payload: None,
                args: Vec::new(),
            }],
            nodes,
            checkpoints: vec![CheckpointRow {
                size: 1,
                note: cp.text().to_owned(),
                is_final: false,
            }],
        });
        rotated.push((
            tenant,
            OpenLog {
                info,
                frontier: new_frontier,
                is_new: false,
            },
        ));
    }
    if !rotations.logs.is_empty() {
        store.commit(&rotations)?;
        open.extend(rotated);
    }
    Ok(open)
}

impl WriterState {
    fn run(&mut self, rx: &mpsc::Receiver<Submission>, window: Duration, max_batch: usize) {
        while let Ok(first) = rx.recv() {
            let mut batch = Vec::with_capacity(max_batch.min(1024));
            first.into_batch(&mut batch);
            let deadline = Instant::now() + window;
            while batch.len() < max_batch {
                let now = Instant::now();
                let next = if window.is_zero() || now >= deadline {
                    rx.try_recv().ok()
                } else {
                    rx.recv_timeout(deadline - now).ok()
                };
                match next {
                    Some(s) => s.into_batch(&mut batch),
                    None => break,
                }
            }
            self.process(batch);
        }
    }

    fn reload(&mut self) -> Result<(), AuditError> {
        let clock: Clock = Arc::new(Timestamp::now);
        self.logs = open_logs(self.store.as_mut(), &self.key, &clock, false)?;
        self.stale = false;
        Ok(())
    }

    fn process(&mut self, batch: Vec<Pending>) {
        if let Some(message) = failure(&self.failed) {
            for p in batch {
                p.reply.send(Err(not_durable(&message)));
            }
            return;
        }
        if self.stale {
            if let Err(e) = self.reload() {
                let message = e.to_string();
                for p in batch {
                    p.reply.send(Err(AuditError::Store(StoreError::Database {
                        path: "audit store".to_owned(),
                        message: message.clone(),
                    })));
                }
                return;
            }
        }
        // Group by tenant, keeping submission order within each tenant.
        let mut groups: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for p in batch {
            groups.entry(p.tenant.clone()).or_default().push(p);
        }
        let mut commit = Batch::default();
        let mut plans: Vec<Plan> = Vec::new();
        for (tenant, pendings) in groups {
            let log = self.logs.entry(tenant.clone()).or_insert_with(|| OpenLog {
                info: LogInfo {
                    origin: self.key.origin(&tenant),
                    tenant: tenant.clone(),
                    key_name: self.key.name().to_owned(),
                    verifier_key: self.key.verifier().to_string(),
                },
                frontier: Frontier::empty(),
                is_new: true,
            });
            let before = log.frontier.clone();
            let mut frontier = log.frontier.clone();
            let mut nodes = Vec::new();
            let mut rows = Vec::with_capacity(pendings.len());
            let mut replies = Vec::with_capacity(pendings.len());
            for p in pendings {
                let mut row = p.row;
                row.index = frontier.size();
                nodes.extend(frontier.append(merkle::leaf_hash(&row.bytes)));
                rows.push(row);
                replies.push(p.reply);
            }
            let checkpoint = Checkpoint {
                origin: log.info.origin.clone(),
                size: frontier.size(),
                root: frontier.root(),
            }
            .sign(&self.key);
            commit.logs.push(LogAppend {
                origin: log.info.origin.clone(),
                create: log.is_new.then(|| log.info.clone()),
                entries: rows,
                nodes,
                checkpoints: vec![CheckpointRow {
                    size: frontier.size(),
                    note: checkpoint.text().to_owned(),
                    is_final: false,
                }],
            });
            plans.push((tenant, before, frontier, checkpoint, replies));
        }
        let syncer = match self.store.commit_unsynced(&commit) {
            Ok(syncer) => syncer,
            Err(e) => {
                self.fail_commit(&e, plans);
                return;
            }
        };
        let mut released = Vec::with_capacity(commit.logs.iter().map(|l| l.entries.len()).sum());
        for ((tenant, before, frontier, checkpoint, replies), append) in
            plans.into_iter().zip(commit.logs)
        {
            if let Some(log) = self.logs.get_mut(&tenant) {
                log.frontier = frontier;
                log.is_new = false;
            }
            let mut known: HashMap<NodeId, Hash> = append.nodes.iter().copied().collect();
            // Every sibling older than the batch is a node of the frontier
            // before it, so proofs need no reads from the store.
            known.extend(before.nodes().iter().copied());
            let size = checkpoint.checkpoint().size;
            for (row, reply) in append.entries.into_iter().zip(replies) {
                let store = &mut self.store;
                let origin = append.origin.as_str();
                let mut read = |id: NodeId| -> Result<Hash, StoreError> {
                    match known.get(&id) {
                        Some(h) => Ok(*h),
                        None => store.nodes(origin, &[id])?.into_iter().next().ok_or(
                            StoreError::MissingNode {
                                origin: origin.to_owned(),
                                level: id.level,
                                index: id.index,
                            },
                        ),
                    }
                };
                let result = match merkle::inclusion_proof(row.index, size, &mut read) {
                    Ok(path) => Ok(Receipt {
                        entry: row.bytes,
                        index: row.index,
                        path,
                        checkpoint: checkpoint.clone(),
                    }),
                    Err(merkle::ProofError::Read(e)) => Err(AuditError::Store(e)),
                    Err(merkle::ProofError::OutOfRange(m)) => Err(inconsistent(origin, m)),
                };
                released.push((reply, result));
            }
        }
        let release = Release {
            syncer,
            replies: released,
        };
        if let Err(mpsc::SendError(release)) = self.release.send(release) {
            // The release thread is gone (it never stops first): answer here,
            // but never with a receipt whose flush nobody made.
            for (reply, _) in release.replies {
                reply.send(Err(AuditError::WriterClosed));
            }
        }
    }

    fn fail_commit(&mut self, e: &StoreError, plans: Vec<Plan>) {
        // The outcome of a failed commit may be unknown (a lost connection
        // after COMMIT): re-read the store before going on.
        self.stale = true;
        let message = e.to_string();
        for (_, _, _, _, replies) in plans {
            for reply in replies {
                reply.send(Err(AuditError::Store(StoreError::Database {
                    path: "audit store".to_owned(),
                    message: message.clone(),
                })));
            }
        }
    }
}

/// What a batch does to one log: its tenant, the frontier before and after,
/// the signed checkpoint, and the callers in entry order.
type Plan = (String, Frontier, Frontier, SignedCheckpoint, Vec<Reply>);
