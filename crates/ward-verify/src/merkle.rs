//! RFC 9162 §2.1 Merkle tree hashing and proof verification.
//!
//! Leaves are `SHA-256(0x00 || entry)` and interior nodes
//! `SHA-256(0x01 || left || right)`, so a leaf can never be passed off as a
//! node. The tree of a whole export is built with [`TreeBuilder`], which keeps
//! only the O(log n) roots of the perfect subtrees seen so far; a verifier can
//! therefore stream millions of entries and read the root of every prefix it
//! needs without storing the leaves.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a root.
pub type Hash = [u8; 32];

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The leaf hash of one entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Builds a tree one leaf at a time.
///
/// Invariant: `subtrees` holds the roots of the perfect subtrees that make up
/// the tree so far, largest first, one per set bit of `size`.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    size: u64,
    subtrees: Vec<(u32, Hash)>,
}

impl TreeBuilder {
    /// An empty tree.
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    /// Appends the leaf hash of the next entry.
    pub fn push_leaf_hash(&mut self, leaf: Hash) {
        let mut height = 0u32;
        let mut hash = leaf;
        while let Some(&(top_height, top_hash)) = self.subtrees.last() {
            if top_height != height {
                break;
            }
            self.subtrees.pop();
            hash = node_hash(&top_hash, &hash);
            height += 1;
        }
        self.subtrees.push((height, hash));
        self.size += 1;
    }

    /// The number of leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 9162 root of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not inside the tree.
    #[error("index {index} is not inside a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The proof has more or fewer hashes than the tree shape needs.
    #[error("the proof has {got} hashes, but a proof for these sizes needs {expected}")]
    WrongLength {
        /// Hashes given.
        got: usize,
        /// Hashes the tree shape needs.
        expected: usize,
    },
    /// The proof does not lead to the claimed root.
    #[error("the proof leads to root {computed}, not to the claimed root {claimed}")]
    RootMismatch {
        /// base64 of the root the proof produces.
        computed: String,
        /// base64 of the root that was claimed.
        claimed: String,
    },
    /// The proof does not reproduce the old root.
    #[error("the proof does not reproduce the old root {claimed} (it gives {computed})")]
    OldRootMismatch {
        /// base64 of the old root the proof produces.
        computed: String,
        /// base64 of the old root that was claimed.
        claimed: String,
    },
    /// The new tree is smaller than the old one.
    #[error("the new size {new} is smaller than the old size {old}")]
    Shrunk {
        /// Old tree size.
        old: u64,
        /// New tree size.
        new: u64,
    },
    /// Two trees of equal size with different roots.
    #[error("both trees have size {size} but their roots differ")]
    Fork {
        /// The common size.
        size: u64,
    },
}

pub(crate) fn b64(hash: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hash)
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size`
/// (RFC 9162 §2.1.3.1), for `index < size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // The path is one hash per level on which the leaf has a sibling: the
    // levels below the point where index and size-1 diverge always do, and
    // above it, one per remaining set bit of the right border.
    let last = size.saturating_sub(1);
    let inner = (64 - (index ^ last).leading_zeros()) as usize;
    // `inner` can be 64 for sizes beyond 2^63; a plain shift would overflow.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    inner + border
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if path.len() != expected {
        return Err(ProofError::WrongLength {
            got: path.len(),
            expected,
        });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: path.len(),
                expected,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: path.len(),
            expected,
        });
    }
    if &r != root {
        return Err(ProofError::RootMismatch {
            computed: b64(&r),
            claimed: b64(root),
        });
    }
    Ok(())
}

/// Verifies a consistency proof between a tree of `old_size` with root
/// `old_root` and a tree of `new_size` with root `new_root` (RFC 9162
/// §2.1.4.2), including the trivial cases of an empty old tree and of equal
/// sizes, where the proof must be empty.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if new_size < old_size {
        return Err(ProofError::Shrunk {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if old_root != new_root {
            return Err(ProofError::Fork { size: old_size });
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if old_root != &empty_root() {
            return Err(ProofError::OldRootMismatch {
                computed: b64(&empty_root()),
                claimed: b64(old_root),
            });
        }
        return Ok(());
    }
    let wrong_length = || ProofError::WrongLength {
        got: proof.len(),
        expected: consistency_proof_len(old_size, new_size),
    };
    // Step 1: a power-of-two old tree is itself a node of the new tree, and
    // the writer leaves it out of the proof.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut iter = path.iter();
    let Some(first) = iter.next() else {
        return Err(wrong_length());
    };
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = *first;
    let mut sr = *first;
    for c in iter {
        if sn == 0 {
            return Err(wrong_length());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_length());
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch {
            computed: b64(&fr),
            claimed: b64(old_root),
        });
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch {
            computed: b64(&sr),
            claimed: b64(new_root),
        });
    }
    Ok(())
}

/// The number of hashes in a consistency proof from `old` to `new`
/// (`0 < old < new`), used only to word errors.
fn consistency_proof_len(old: u64, new: u64) -> usize {
    // SUBPROOF(m, D[n], true) per RFC 9162 §2.1.4.1, counted without hashing.
    fn sub(m: u64, n: u64, complete: bool) -> usize {
        if m == n {
            return usize::from(!complete);
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            sub(m, k, complete) + 1
        } else {
            sub(m - k, n - k, false) + 1
        }
    }
    sub(old, new, true)
}

/// The largest power of two strictly less than `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> u64 {
    let p = 1u64 << (63 - n.leading_zeros());
    if p == n {
        p >> 1
    } else {
        p
    }
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
