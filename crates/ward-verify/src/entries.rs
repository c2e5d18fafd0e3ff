//! The streaming pass over `entries.jsonl` (`docs/receipt-format.md` §6).
//!
//! The file is read in chunks of whole lines. Each chunk is split into one
//! part per available core, and the parts are validated and leaf-hashed in
//! parallel (parsing JSON is most of the cost); the leaf hashes are then folded into the incremental
//! tree strictly in entry order, on one thread. Errors are therefore reported
//! exactly as a sequential pass would report them: the first failing entry,
//! or the first checkpoint whose size is reached with a different root,
//! whichever comes first in the file. Memory is one chunk plus O(log n).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::checkpoint::Checkpoint;
use crate::error::{Failure, VerifyError};
use crate::merkle::{b64, leaf_hash, Hash, TreeBuilder};
use crate::statement::{parse_statement, Kind, Previous, StatementError};

pub(crate) const ENTRIES: &str = "entries.jsonl";

/// Bytes read per chunk (rounded up to the end of a line).
const CHUNK: usize = 4 << 20;

/// One chunk of whole lines.
struct Chunk {
    data: Vec<u8>,
    /// Whether the file ended inside the last line of `data` (no final LF).
    ends_mid_line: bool,
    eof: bool,
}

/// Reads the next chunk: whole lines, carrying a partial line over.
fn read_chunk(file: &mut File, carry: &mut Vec<u8>, chunk_size: usize) -> std::io::Result<Chunk> {
    let mut data = std::mem::take(carry);
    let mut eof = false;
    loop {
        let start = data.len();
        let want = chunk_size.max(start + (chunk_size / 4).max(1));
        data.resize(want, 0);
        let n = file.read(data.get_mut(start..).unwrap_or_default())?;
        data.truncate(start + n);
        if n == 0 {
            eof = true;
            break;
        }
        if data.len() >= chunk_size
            && data
                .get(start..)
                .is_some_and(|d| memchr::memchr(b'\n', d).is_some())
        {
            break;
        }
    }
    let ends_mid_line = eof && data.last().is_some_and(|&b| b != b'\n');
    if !eof {
        let keep = memchr::memrchr(b'\n', &data).map_or(0, |p| p + 1);
        *carry = data.split_off(keep);
    }
    Ok(Chunk {
        data,
        ends_mid_line,
        eof,
    })
}

/// Splits at every LF (the last line has none), with `memchr` because this
/// scan touches every byte of the export.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(body.len() / 512 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body) {
        lines.push(body.get(start..end).unwrap_or_default());
        start = end + 1;
    }
    lines.push(body.get(start..).unwrap_or_default());
    lines
}

/// The verdict on one entry, before it is placed in the tree.
enum Checked {
    Leaf(Hash),
    Rotation(Hash, Box<Previous>),
    Bad(Failure),
}

fn check_entry(entry: &[u8], index: u64, tenant: &str) -> Checked {
    let statement = match parse_statement(entry) {
        Ok(s) => s,
        Err(StatementError::NotJson(m)) => return Checked::Bad(Failure::NotJson(m)),
        Err(StatementError::Invalid(m)) => return Checked::Bad(Failure::InvalidEntry(m)),
    };
    if statement.tenant != tenant {
        return Checked::Bad(Failure::TenantMismatch {
            found: statement.tenant,
            expected: tenant.to_owned(),
        });
    }
    let leaf = leaf_hash(entry);
    match (statement.kind, statement.previous) {
        (Kind::Rotation, _) if index != 0 => Checked::Bad(Failure::Rotation(
            "a `rotation` statement may only be entry 0".to_owned(),
        )),
        (Kind::Rotation, Some(previous)) => Checked::Rotation(leaf, Box::new(previous)),
        _ => Checked::Leaf(leaf),
    }
}

fn check_lines(lines: &[&[u8]], first_index: u64, tenant: &str) -> Vec<Checked> {
    (first_index..)
        .zip(lines)
        .map(|(index, line)| check_entry(line, index, tenant))
        .collect()
}

/// Checks `lines` (entries `first..`) on `threads` threads, the calling
/// thread included, and returns the verdicts in order.
fn check_in_parallel(
    lines: &[&[u8]],
    first: u64,
    tenant: &str,
    threads: usize,
) -> Result<Vec<Checked>, VerifyError> {
    let per_thread = lines.len().div_ceil(threads.max(1)).max(1);
    let mut parts = lines.chunks(per_thread);
    let own = parts.next().unwrap_or_default();
    std::thread::scope(|s| {
        let mut start = first + own.len() as u64;
        let workers: Vec<_> = parts
            .map(|part| {
                let part_first = start;
                start += part.len() as u64;
                s.spawn(move || check_lines(part, part_first, tenant))
            })
            .collect();
        let mut checked = check_lines(own, first, tenant);
        for worker in workers {
            let part = worker.join().map_err(|_| {
                VerifyError::new(
                    ENTRIES,
                    Failure::Malformed("a checking thread failed".to_owned()),
                )
            })?;
            checked.extend(part);
        }
        Ok(checked)
    })
}

/// Streams `entries.jsonl` in `dir`, comparing each checkpoint's root when
/// its size is reached. Returns the number of entries and, if entry 0 is a
/// rotation, what it points back to.
pub(crate) fn verify_entries(
    dir: &Path,
    tenant: &str,
    checkpoints: &[(String, Checkpoint)],
) -> Result<(u64, Option<Previous>), VerifyError> {
    verify_entries_in_chunks(dir, tenant, checkpoints, CHUNK)
}

fn verify_entries_in_chunks(
    dir: &Path,
    tenant: &str,
    checkpoints: &[(String, Checkpoint)],
    chunk_size: usize,
) -> Result<(u64, Option<Previous>), VerifyError> {
    let io_err = |e| VerifyError::new(ENTRIES, Failure::Io(e));
    let mut file = File::open(dir.join(ENTRIES)).map_err(io_err)?;
    let mut fold = Fold {
        tree: TreeBuilder::new(),
        pending: checkpoints,
        last_matched: 0,
        last_size: checkpoints.last().map_or(0, |(_, cp)| cp.size),
        previous: None,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut carry = Vec::new();
    loop {
        let chunk = read_chunk(&mut file, &mut carry, chunk_size).map_err(io_err)?;
        let body = chunk.data.strip_suffix(b"\n").unwrap_or(&chunk.data);
        let lines: Vec<&[u8]> = if chunk.data.is_empty() {
            Vec::new()
        } else {
            split_lines(body)
        };
        let complete = if chunk.ends_mid_line {
            lines.len().saturating_sub(1)
        } else {
            lines.len()
        };
        let (whole, _) = lines.split_at(complete);
        let first = fold.tree.size();
        let checked = check_in_parallel(whole, first, tenant, threads)?;
        for item in checked {
            fold.push(item)?;
        }
        if chunk.ends_mid_line {
            fold.reach_checkpoints()?;
            let index = fold.tree.size();
            let tail = lines.last().map_or(0, |l| l.len());
            return Err(VerifyError::new(
                format!("{ENTRIES} line {}", index + 1),
                Failure::Truncated(format!(
                    "{ENTRIES} ends mid-line ({tail} bytes after the last newline)"
                )),
            ));
        }
        if chunk.eof {
            break;
        }
    }
    fold.reach_checkpoints()?;
    if fold.tree.size() < fold.last_size {
        return Err(VerifyError::new(
            ENTRIES,
            Failure::MissingEntries {
                entries: fold.tree.size(),
                size: fold.last_size,
            },
        ));
    }
    Ok((fold.tree.size(), fold.previous))
}

/// The sequential half: entries in order into the tree, checkpoints checked
/// as their sizes are reached.
struct Fold<'c> {
    tree: TreeBuilder,
    pending: &'c [(String, Checkpoint)],
    last_matched: u64,
    last_size: u64,
    previous: Option<Previous>,
}

impl Fold<'_> {
    fn reach_checkpoints(&mut self) -> Result<(), VerifyError> {
        while let Some(((location, cp), rest)) = self.pending.split_first() {
            if cp.size != self.tree.size() {
                break;
            }
            let computed = self.tree.root();
            if computed != cp.root {
                return Err(VerifyError::new(
                    location.as_str(),
                    Failure::RootMismatch {
                        size: cp.size,
                        computed: b64(&computed),
                        claimed: b64(&cp.root),
                        first_suspect: self.last_matched,
                        first_line: self.last_matched + 1,
                    },
                ));
            }
            self.last_matched = cp.size;
            self.pending = rest;
        }
        Ok(())
    }

    fn push(&mut self, item: Checked) -> Result<(), VerifyError> {
        self.reach_checkpoints()?;
        let index = self.tree.size();
        if index >= self.last_size {
            return Err(VerifyError::new(
                ENTRIES,
                Failure::UncoveredEntries {
                    size: self.last_size,
                },
            ));
        }
        let leaf = match item {
            Checked::Leaf(leaf) => leaf,
            Checked::Rotation(leaf, previous) => {
                self.previous = Some(*previous);
                leaf
            }
            Checked::Bad(failure) => {
                return Err(VerifyError::new(
                    format!("entry {index} (line {} of {ENTRIES})", index + 1),
                    failure,
                ))
            }
        };
        self.tree.push_leaf_hash(leaf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::tests::DECISION;

    /// Every chunk size, down to one byte, gives the same verdicts.
    #[test]
    fn chunk_boundaries_do_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<String> = (0..9)
            .map(|i| DECISION.replace("dec_1", &format!("dec_{i}")))
            .collect();
        let mut tree = TreeBuilder::new();
        let mut checkpoints = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            tree.push_leaf_hash(leaf_hash(e.as_bytes()));
            if i % 4 == 0 || i == 8 {
                let cp = Checkpoint {
                    origin: String::new(),
                    size: tree.size(),
                    root: tree.root(),
                };
                checkpoints.push((format!("cp{i}"), cp));
            }
        }
        let jsonl: String = entries.iter().map(|e| format!("{e}\n")).collect();
        let path = dir.path().join(ENTRIES);
        for chunk in [1, 2, 7, 100, 1000, 1 << 20] {
            std::fs::write(&path, &jsonl).unwrap();
            let (size, _) =
                verify_entries_in_chunks(dir.path(), "acme", &checkpoints, chunk).unwrap();
            assert_eq!(size, 9, "chunk {chunk}");

            std::fs::write(&path, &jsonl[..jsonl.len() - 3]).unwrap();
            let e = verify_entries_in_chunks(dir.path(), "acme", &checkpoints, chunk).unwrap_err();
            assert_eq!(e.failure().code(), "truncated", "chunk {chunk}: {e}");
            assert_eq!(e.location(), "entries.jsonl line 9");

            let bad = jsonl.replacen("dec_5", "dec_X", 1);
            std::fs::write(&path, &bad).unwrap();
            let e = verify_entries_in_chunks(dir.path(), "acme", &checkpoints, chunk).unwrap_err();
            assert_eq!(e.failure().code(), "root-mismatch", "chunk {chunk}: {e}");
            assert_eq!(e.location(), "cp8");

            let bad = jsonl.replacen("\"v\":1}", "\"v\":2}", 3);
            std::fs::write(&path, &bad).unwrap();
            let e = verify_entries_in_chunks(dir.path(), "acme", &checkpoints, chunk).unwrap_err();
            assert_eq!(
                e.location(),
                "entry 0 (line 1 of entries.jsonl)",
                "chunk {chunk}: {e}"
            );

            std::fs::write(&path, format!("{jsonl}{}\n", entries[0])).unwrap();
            let e = verify_entries_in_chunks(dir.path(), "acme", &checkpoints, chunk).unwrap_err();
            assert_eq!(
                e.failure().code(),
                "uncovered-entries",
                "chunk {chunk}: {e}"
            );
        }
    }
}
