//! Reading the evidence back: full verification of a stored log (`check`),
//! queries bounded by checkpoints, the export directory of
//! `docs/receipt-format.md` §6, and payload erasure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::entry::{Entry, Statement};
use crate::error::AuditError;
use crate::merkle::{self, Frontier, NodeId};
use crate::note::{root_base64, ConsistencyProof, SignedCheckpoint, VerifierKey};
use crate::store::{is_stored, node_reader, CheckpointRow, Filter, LogState, Store};

/// Entries read per round trip while scanning a log.
const CHUNK: u64 = 4096;

fn inconsistent(origin: &str, message: impl Into<String>) -> AuditError {
    AuditError::Inconsistent {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

/// The logs of a tenant, oldest key first within each key name.
pub fn logs_of(store: &mut dyn Store, tenant: &str) -> Result<Vec<LogState>, AuditError> {
    Ok(store
        .logs()?
        .into_iter()
        .filter(|l| l.info.tenant == tenant)
        .collect())
}

/// What `check` verified for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    /// The log.
    pub origin: String,
    /// Entries verified.
    pub size: u64,
    /// Checkpoints verified.
    pub checkpoints: usize,
    /// Whether a countersigned final checkpoint closed it.
    pub closed: bool,
}

/// Verifies every log of `tenant` in full: each entry is a canonical v1
/// statement of that tenant; every stored Merkle node equals the one
/// recomputed from the entries; every checkpoint is signed by the log's key,
/// has the log's origin and matches the tree at its size; sizes never
/// shrink; the last checkpoint covers every entry; a rotation entry matches
/// the previous log's countersigned final checkpoint.
pub fn check(store: &mut dyn Store, tenant: &str) -> Result<Vec<LogReport>, AuditError> {
    let logs = logs_of(store, tenant)?;
    let mut finals: HashMap<String, (SignedCheckpoint, String)> = HashMap::new();
    let mut reports = Vec::new();
    // Closed logs first so rotation entries can be checked against them.
    let mut ordered: Vec<&LogState> = logs.iter().filter(|l| l.closed).collect();
    ordered.extend(logs.iter().filter(|l| !l.closed));
    for log in ordered {
        let report = check_log(store, log, &mut finals)?;
        reports.push(report);
    }
    Ok(reports)
}

fn check_log(
    store: &mut dyn Store,
    log: &LogState,
    finals: &mut HashMap<String, (SignedCheckpoint, String)>,
) -> Result<LogReport, AuditError> {
    let origin = log.info.origin.as_str();
    let key: VerifierKey = log.info.verifier_key.parse()?;
    if key.origin_tenant(origin) != Some(log.info.tenant.as_str()) {
        return Err(inconsistent(
            origin,
            "the origin does not belong to the log's key and tenant",
        ));
    }
    let rows = store.checkpoints(origin)?;
    let mut checkpoints = Vec::with_capacity(rows.len());
    let mut previous_size = 0;
    for (seq, row) in rows.iter().enumerate() {
        let signed = SignedCheckpoint::parse(&row.note)?;
        signed
            .verify(&key)
            .map_err(|e| inconsistent(origin, format!("checkpoint {}: {e}", seq + 1)))?;
        let cp = signed.checkpoint();
        if cp.origin != origin || cp.size != row.size {
            return Err(inconsistent(
                origin,
                format!("checkpoint {} names another log or size", seq + 1),
            ));
        }
        if cp.size < previous_size {
            return Err(inconsistent(
                origin,
                format!("checkpoint {} shrinks the log", seq + 1),
            ));
        }
        previous_size = cp.size;
        if row.is_final {
            finals.insert(
                origin.to_owned(),
                (signed.clone(), log.info.verifier_key.clone()),
            );
        }
        checkpoints.push(signed);
    }
    let Some(last) = checkpoints.last() else {
        return Err(inconsistent(origin, "the log has no checkpoint"));
    };
    let last_size = last.checkpoint().size;
    let mut frontier = Frontier::empty();
    let mut next_checkpoint = 0usize;
    let mut start = 0u64;
    loop {
        let chunk = store.entries(origin, start, start + CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        let mut new_nodes = Vec::new();
        for bytes in chunk {
            let index = frontier.size();
            let entry = Entry::parse(&bytes)
                .map_err(|e| inconsistent(origin, format!("entry {index}: {e}")))?;
            if entry.tenant() != log.info.tenant {
                return Err(inconsistent(
                    origin,
                    format!("entry {index} belongs to tenant `{}`", entry.tenant()),
                ));
            }
            if let Statement::Rotation(r) = entry.statement() {
                if index != 0 {
                    return Err(inconsistent(
                        origin,
                        format!("entry {index} is a rotation entry"),
                    ));
                }
                let (final_cp, old_key) = finals.get(&r.previous.origin).ok_or_else(|| {
                    inconsistent(origin, "the previous log has no final checkpoint")
                })?;
                let cp = final_cp.checkpoint();
                let ok = cp.size == r.previous.size
                    && root_base64(&cp.root) == r.previous.root
                    && *old_key == r.previous.key
                    && final_cp.verify_signature(&key).is_ok();
                if !ok {
                    return Err(inconsistent(origin, "the rotation entry does not match the previous log's countersigned final checkpoint"));
                }
            }
            new_nodes.extend(frontier.append(entry.leaf_hash()));
            while let Some(cp) = checkpoints.get(next_checkpoint) {
                if cp.checkpoint().size != frontier.size() {
                    break;
                }
                if cp.checkpoint().root != frontier.root() {
                    return Err(inconsistent(
                        origin,
                        format!("checkpoint {} (size {}) does not match the entries; first differing entry is at or before {index}", next_checkpoint + 1, frontier.size()),
                    ));
                }
                next_checkpoint += 1;
            }
        }
        new_nodes.retain(|(id, _)| is_stored(*id));
        let ids: Vec<NodeId> = new_nodes.iter().map(|(id, _)| *id).collect();
        let stored = store.stored_nodes(origin, &ids)?;
        for ((id, want), got) in new_nodes.iter().zip(stored) {
            if *want != got {
                return Err(inconsistent(
                    origin,
                    format!(
                        "stored Merkle node level {} index {} differs from the entries",
                        id.level, id.index
                    ),
                ));
            }
        }
        start += CHUNK;
    }
    // Checkpoints of size 0 are matched by the empty tree.
    while let Some(cp) = checkpoints.get(next_checkpoint) {
        if cp.checkpoint().size != 0 || cp.checkpoint().root != merkle::EMPTY_ROOT {
            break;
        }
        next_checkpoint += 1;
    }
    if frontier.size() != last_size || next_checkpoint != checkpoints.len() {
        return Err(inconsistent(
            origin,
            format!("the log holds {} entries but its checkpoints cover {last_size}: entries are missing or uncovered", frontier.size()),
        ));
    }
    Ok(LogReport {
        origin: origin.to_owned(),
        size: frontier.size(),
        checkpoints: checkpoints.len(),
        closed: log.closed,
    })
}

/// The entries of one log that match a query, with the checkpoints that bound the period.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAnswer {
    /// The log.
    pub origin: String,
    /// Matching entries with their index.
    pub entries: Vec<(u64, Entry)>,
    /// The latest checkpoint issued before the period's first entry (none: the
    /// period starts at the beginning of the log, the empty tree).
    pub lower: Option<SignedCheckpoint>,
    /// The first checkpoint that covers the period's last entry.
    pub upper: Option<SignedCheckpoint>,
}

/// Runs a query. For each log of the tenant with entries in the period, the
/// answer names the checkpoints `lower` and `upper`: every entry of the
/// period lies between their sizes, so an auditor can fetch that range,
/// prove it with a consistency proof, and see that nothing was left out.
pub fn query(store: &mut dyn Store, filter: &Filter) -> Result<Vec<LogAnswer>, AuditError> {
    let hits = store.query(filter)?;
    let mut by_log: Vec<(String, Vec<(u64, Entry)>)> = Vec::new();
    for hit in hits {
        let entry = Entry::parse(&hit.entry)
            .map_err(|e| inconsistent(&hit.origin, format!("entry {}: {e}", hit.index)))?;
        match by_log.last_mut() {
            Some((origin, entries)) if *origin == hit.origin => entries.push((hit.index, entry)),
            _ => by_log.push((hit.origin, vec![(hit.index, entry)])),
        }
    }
    let mut answers = Vec::new();
    for log in logs_of(store, &filter.tenant)? {
        let origin = log.info.origin;
        let Some((lo, hi)) = store.time_bounds(&origin, filter.from, filter.until)? else {
            continue;
        };
        let checkpoints = store.checkpoints(&origin)?;
        let pick = |rows: &[CheckpointRow],
                    want: &dyn Fn(u64) -> bool,
                    last: bool|
         -> Result<Option<SignedCheckpoint>, AuditError> {
            let found = if last {
                rows.iter().rev().find(|c| want(c.size))
            } else {
                rows.iter().find(|c| want(c.size))
            };
            found
                .map(|c| SignedCheckpoint::parse(&c.note).map_err(AuditError::from))
                .transpose()
        };
        let lower = pick(&checkpoints, &|size| size <= lo && size > 0, true)?;
        let upper = pick(&checkpoints, &|size| size > hi, false)?;
        let entries = by_log
            .iter()
            .position(|(o, _)| *o == origin)
            .map(|i| by_log.swap_remove(i).1)
            .unwrap_or_default();
        answers.push(LogAnswer {
            origin,
            entries,
            lower,
            upper,
        });
    }
    Ok(answers)
}

/// Deletes the payload (full arguments) of an entry and its indexed
/// argument values. The log and every receipt stay verifiable.
pub fn forget_payload(store: &mut dyn Store, origin: &str, index: u64) -> Result<bool, AuditError> {
    Ok(store.forget_payload(origin, index)?)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    std::fs::write(path, bytes).map_err(|e| AuditError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn mkdir(path: &Path) -> Result<(), AuditError> {
    std::fs::create_dir_all(path).map_err(|e| AuditError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Writes the export directory of one log (§6) into `dir`, which must not
/// exist or be empty. Consistency proofs between consecutive checkpoints are
/// included.
pub fn export_log(store: &mut dyn Store, origin: &str, dir: &Path) -> Result<(), AuditError> {
    let log = store
        .logs()?
        .into_iter()
        .find(|l| l.info.origin == origin)
        .ok_or_else(|| AuditError::UnknownLog(origin.to_owned()))?;
    if std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(AuditError::Io {
            path: dir.display().to_string(),
            message: "the export directory is not empty".to_owned(),
        });
    }
    mkdir(&dir.join("checkpoints"))?;
    write(&dir.join("origin"), format!("{origin}\n").as_bytes())?;
    let checkpoints = store.checkpoints(origin)?;
    let mut entries = Vec::new();
    let mut start = 0u64;
    let mut first_entry = None;
    loop {
        let chunk = store.entries(origin, start, start + CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        for bytes in chunk {
            if first_entry.is_none() {
                first_entry = Some(bytes.clone());
            }
            entries.extend_from_slice(&bytes);
            entries.push(b'\n');
        }
        start += CHUNK;
    }
    write(&dir.join("entries.jsonl"), &entries)?;
    let mut previous: Option<&CheckpointRow> = None;
    for (i, row) in checkpoints.iter().enumerate() {
        let seq = i + 1;
        write(
            &dir.join("checkpoints").join(format!("{seq:04}.txt")),
            row.note.as_bytes(),
        )?;
        if let Some(prev) = previous {
            let hashes =
                merkle::consistency_proof(prev.size, row.size, &mut node_reader(store, origin))
                    .map_err(|e| match e {
                        merkle::ProofError::Read(e) => AuditError::Store(e),
                        merkle::ProofError::OutOfRange(m) => inconsistent(origin, m),
                    })?;
            let proof = ConsistencyProof {
                old: prev.size,
                new: row.size,
                hashes,
            };
            mkdir(&dir.join("proofs"))?;
            write(
                &dir.join("proofs").join(format!("{seq:04}.txt")),
                proof.encode().as_bytes(),
            )?;
        }
        previous = Some(row);
    }
    if let Some(bytes) = first_entry {
        if let Ok(entry) = Entry::parse(&bytes) {
            if let Statement::Rotation(r) = entry.statement() {
                let old = store.checkpoints(&r.previous.origin)?;
                let final_cp = old.iter().rev().find(|c| c.is_final).ok_or_else(|| {
                    inconsistent(origin, "the previous log has no final checkpoint")
                })?;
                mkdir(&dir.join("previous"))?;
                write(
                    &dir.join("previous").join("checkpoint.txt"),
                    final_cp.note.as_bytes(),
                )?;
            }
        }
    }
    let _ = log;
    Ok(())
}

/// Exports every log of `tenant`, each into its own subdirectory of `dir`
/// named `<key name with '/' as '_'>_<key id hex>`. Returns the origins and
/// the directories written.
pub fn export(
    store: &mut dyn Store,
    tenant: &str,
    dir: &Path,
) -> Result<Vec<(String, PathBuf)>, AuditError> {
    let mut out = Vec::new();
    for log in logs_of(store, tenant)? {
        let origin = log.info.origin;
        let key_id = origin.rsplit('/').next().unwrap_or_default();
        let sub = dir.join(format!("{}_{key_id}", log.info.key_name.replace('/', "_")));
        export_log(store, &origin, &sub)?;
        out.push((origin, sub));
    }
    Ok(out)
}
