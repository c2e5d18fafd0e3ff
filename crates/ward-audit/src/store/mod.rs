//! Storage of logs behind one trait, with SQLite (embedded default) and
//! PostgreSQL (scale-out) implementations.
//!
//! A store only persists what the writer computed: entries, the perfect
//! Merkle subtrees they complete, payloads, query facets and signed
//! checkpoints. Each [`Batch`] is committed atomically, so a crash leaves
//! either all of a batch or none of it. Log tables are append-only: rows are
//! inserted, never updated; only payloads and the argument index (personal
//! data) can be deleted.

pub(crate) mod checkpointer;
pub(crate) mod postgres;
pub(crate) mod sql;
pub(crate) mod sqlite;
pub(crate) mod trailing;

use crate::merkle::{Hash, NodeId};
use crate::time::Timestamp;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, or is not a database.
    #[error("cannot open audit database `{path}`: {message}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        message: String,
    },
    /// The database is damaged or truncated.
    #[error("audit database `{path}` is corrupt or truncated: {message}")]
    Corrupt {
        /// Where.
        path: String,
        /// What the check found.
        message: String,
    },
    /// A query or transaction failed.
    #[error("audit database `{path}`: {message}")]
    Database {
        /// Where.
        path: String,
        /// The database's message.
        message: String,
    },
    /// A stored node needed for a proof is missing.
    #[error("audit log `{origin}` is missing Merkle node level {level} index {index}")]
    MissingNode {
        /// The log.
        origin: String,
        /// Node level.
        level: u8,
        /// Node index.
        index: u64,
    },
}

/// The identity of one log: one tenant under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The checkpoint origin, `<key name>/<tenant>/<key id hex>`.
    pub origin: String,
    /// The tenant.
    pub tenant: String,
    /// The signing key's name.
    pub key_name: String,
    /// The signing key's verifier key string.
    pub verifier_key: String,
}

/// A log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// Its identity.
    pub info: LogInfo,
    /// Number of entries.
    pub size: u64,
    /// Whether a final (rotation) checkpoint closed it.
    pub closed: bool,
}

/// A value of an indexed argument, as the side table keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    /// A JSON number.
    Number(f64),
    /// A JSON string (or `true`/`false`).
    Text(String),
}

impl ArgValue {
    /// The `(num, text)` columns of the side table: one is set.
    pub(crate) fn columns(&self) -> (Option<f64>, Option<&str>) {
        match self {
            ArgValue::Number(n) => (Some(*n), None),
            ArgValue::Text(s) => (None, Some(s.as_str())),
        }
    }
}

/// One entry of a batch, with what queries need.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRow {
    /// Leaf index.
    pub index: u64,
    /// Exact entry bytes.
    pub bytes: Vec<u8>,
    /// Statement kind.
    pub kind: String,
    /// Recorded time, entry format.
    pub time: String,
    /// Tool, if any.
    pub tool: Option<String>,
    /// Outcome, for decisions.
    pub outcome: Option<String>,
    /// Principal (or approver) id.
    pub principal: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Decision id.
    pub decision_id: Option<String>,
    /// Rule ids among the reasons.
    pub rules: Vec<String>,
    /// The deletable payload (canonical JSON of the arguments or content).
    pub payload: Option<Vec<u8>>,
    /// Indexed argument values, by path.
    pub args: Vec<(String, ArgValue)>,
}

/// A signed checkpoint to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Its tree size.
    pub size: u64,
    /// The signed note text.
    pub note: String,
    /// Whether it is a log's final, countersigned checkpoint.
    pub is_final: bool,
}

/// What one batch adds to one log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAppend {
    /// The log.
    pub origin: String,
    /// Set when the log is new.
    pub create: Option<LogInfo>,
    /// Entries, in index order.
    pub entries: Vec<EntryRow>,
    /// Perfect subtrees completed by the entries (all levels: the store
    /// keeps those at or above [`FIRST_STORED_LEVEL`]).
    pub nodes: Vec<(NodeId, Hash)>,
    /// Checkpoints, in order.
    pub checkpoints: Vec<CheckpointRow>,
}

/// One atomic commit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// Per-log changes.
    pub logs: Vec<LogAppend>,
}

/// A comparison on an indexed argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// At most.
    Le,
    /// Greater than.
    Gt,
    /// At least.
    Ge,
}

impl ArgOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            ArgOp::Eq => "=",
            ArgOp::Ne => "<>",
            ArgOp::Lt => "<",
            ArgOp::Le => "<=",
            ArgOp::Gt => ">",
            ArgOp::Ge => ">=",
        }
    }
}

/// A condition on an argument declared indexable at write time.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgFilter {
    /// Dotted path into the arguments, as declared (e.g. `amount`).
    pub path: String,
    /// Comparison.
    pub op: ArgOp,
    /// Right-hand side.
    pub value: ArgValue,
}

impl std::str::FromStr for ArgFilter {
    type Err = String;

    /// Parses `amount>500` or `currency=USD` (ops: `=` `!=` `<` `<=` `>` `>=`).
    /// A right-hand side that reads as a finite number compares as one.
    fn from_str(text: &str) -> Result<ArgFilter, String> {
        const OPS: [(&str, ArgOp); 6] = [
            ("<=", ArgOp::Le),
            (">=", ArgOp::Ge),
            ("!=", ArgOp::Ne),
            ("<", ArgOp::Lt),
            (">", ArgOp::Gt),
            ("=", ArgOp::Eq),
        ];
        for (token, op) in OPS {
            if let Some((path, value)) = text.split_once(token) {
                if path.trim().is_empty() {
                    break;
                }
                let value = match value.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => ArgValue::Number(n),
                    _ => ArgValue::Text(value.trim().to_owned()),
                };
                return Ok(ArgFilter {
                    path: path.trim().to_owned(),
                    op,
                    value,
                });
            }
        }
        Err(format!(
            "argument condition `{text}` needs a path and a comparison, as in `amount>500`"
        ))
    }
}

/// What to look for. Every set field must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// The tenant (required).
    pub tenant: String,
    /// Recorded at or after.
    pub from: Option<Timestamp>,
    /// Recorded strictly before.
    pub until: Option<Timestamp>,
    /// Statement kind (`decision`, `approval`, `execution`, `rotation`).
    pub kind: Option<String>,
    /// Tool name.
    pub tool: Option<String>,
    /// Outcome wire name.
    pub outcome: Option<String>,
    /// A rule among the reasons.
    pub rule: Option<String>,
    /// Principal (or approver) id.
    pub principal: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Conditions on indexed arguments.
    pub args: Vec<ArgFilter>,
    /// At most this many entries.
    pub limit: Option<u64>,
}

/// One matching entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Its log.
    pub origin: String,
    /// Its index.
    pub index: u64,
    /// Its exact bytes.
    pub entry: Vec<u8>,
}

/// Perfect subtrees below this level are not stored: each is recomputed
/// from its at most 4 entries when a proof needs it. Storing every level
/// would write about two node rows per entry; from level 3 up it is one
/// row per four entries.
pub const FIRST_STORED_LEVEL: u8 = 3;

/// Whether a store keeps this node (or recomputes it from entries).
pub(crate) fn is_stored(id: NodeId) -> bool {
    id.level >= FIRST_STORED_LEVEL
}

/// The hash of a perfect subtree below [`FIRST_STORED_LEVEL`], from its entries.
fn computed_node<S: Store + ?Sized>(
    store: &mut S,
    origin: &str,
    id: NodeId,
) -> Result<Hash, StoreError> {
    let missing = || StoreError::MissingNode {
        origin: origin.to_owned(),
        level: id.level,
        index: id.index,
    };
    let width = 1u64 << id.level;
    let start = id.index.checked_mul(width).ok_or_else(missing)?;
    let entries = store.entries(origin, start, start.saturating_add(width))?;
    if entries.len() as u64 != width {
        return Err(missing());
    }
    let mut level: Vec<Hash> = entries
        .iter()
        .map(|e| crate::merkle::leaf_hash(e))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| match pair {
                [left, right] => crate::merkle::node_hash(left, right),
                _ => unreachable!("chunks_exact(2) yields pairs"),
            })
            .collect();
    }
    level.pop().ok_or_else(missing)
}

/// Storage for logs. Implementations are used from one thread at a time.
pub trait Store: Send {
    /// Every log with its size.
    fn logs(&mut self) -> Result<Vec<LogState>, StoreError>;
    /// Reads stored nodes (each at or above [`FIRST_STORED_LEVEL`]); a
    /// missing node is an error.
    fn stored_nodes(&mut self, origin: &str, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;
    /// Reads any nodes: stored ones, and lower ones recomputed from entries.
    fn nodes(&mut self, origin: &str, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let wanted: Vec<NodeId> = ids.iter().copied().filter(|id| is_stored(*id)).collect();
        let mut stored = self.stored_nodes(origin, &wanted)?.into_iter();
        ids.iter()
            .map(|&id| {
                if !is_stored(id) {
                    return computed_node(self, origin, id);
                }
                stored.next().ok_or(StoreError::MissingNode {
                    origin: origin.to_owned(),
                    level: id.level,
                    index: id.index,
                })
            })
            .collect()
    }
    /// Commits a batch atomically and durably.
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError>;
    /// Commits a batch atomically, possibly returning before it is durable:
    /// then the batch is durable once the returned [`Syncer`] has synced.
    /// This lets the writer build the next batch while the disk flushes the
    /// last one. The default commits durably and returns no syncer.
    fn commit_unsynced(&mut self, batch: &Batch) -> Result<Option<Syncer>, StoreError> {
        self.commit(batch).map(|()| None)
    }
    /// Entries `[start, end)` of a log, in order.
    fn entries(&mut self, origin: &str, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// All checkpoints of a log in the order issued: (size, note, final).
    fn checkpoints(&mut self, origin: &str) -> Result<Vec<CheckpointRow>, StoreError>;
    /// The stored payload of an entry, unless forgotten.
    fn payload(&mut self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes an entry's payload and indexed arguments. True if there was one.
    fn forget_payload(&mut self, origin: &str, index: u64) -> Result<bool, StoreError>;
    /// Entries matching a filter, by log then index.
    fn query(&mut self, filter: &Filter) -> Result<Vec<Hit>, StoreError>;
    /// The first and last index of a log recorded in `[from, until)`.
    fn time_bounds(
        &mut self,
        origin: &str,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Option<(u64, u64)>, StoreError>;
}

/// Makes what a store committed without syncing durable: it flushes one
/// file (SQLite's write-ahead log) to the disk. Flushing a file covers every
/// write made to it before, so one sync stands for every batch committed
/// before it was called.
#[derive(Debug, Clone)]
pub struct Syncer {
    file: std::sync::Arc<std::fs::File>,
    path: String,
}

impl Syncer {
    /// A syncer for `file`, named `path` in errors.
    pub fn new(file: std::fs::File, path: impl Into<String>) -> Syncer {
        Syncer {
            file: std::sync::Arc::new(file),
            path: path.into(),
        }
    }

    /// Flushes the file's data to the disk (`fdatasync`).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|e| StoreError::Database {
            path: self.path.clone(),
            message: format!("cannot flush the write-ahead log to disk: {e}"),
        })
    }

    /// Whether two syncers flush the same open file.
    pub fn same_file(&self, other: &Syncer) -> bool {
        std::sync::Arc::ptr_eq(&self.file, &other.file)
    }
}

/// Reads one node through a store, for the Merkle functions.
pub(crate) fn node_reader<'a>(
    store: &'a mut dyn Store,
    origin: &'a str,
) -> impl FnMut(NodeId) -> Result<Hash, StoreError> + 'a {
    move |id| {
        store
            .nodes(origin, &[id])?
            .into_iter()
            .next()
            .ok_or(StoreError::MissingNode {
                origin: origin.to_owned(),
                level: id.level,
                index: id.index,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn arg_conditions_parse_with_the_longest_operator_first() {
        let f: ArgFilter = "amount>=500".parse().unwrap();
        assert_eq!(
            (f.path.as_str(), f.op, f.value),
            ("amount", ArgOp::Ge, ArgValue::Number(500.0))
        );
        let f: ArgFilter = " currency = USD ".parse().unwrap();
        assert_eq!((f.path.as_str(), f.op), ("currency", ArgOp::Eq));
        assert_eq!(f.value, ArgValue::Text("USD".into()));
        let f: ArgFilter = "note!=inf".parse().unwrap();
        assert_eq!((f.op, f.value), (ArgOp::Ne, ArgValue::Text("inf".into())));
        for bad in ["amount", "", ">5", "=x"] {
            assert!(bad.parse::<ArgFilter>().is_err(), "{bad}");
        }
    }
}
