//! RFC 9162 Merkle tree math, pure: no I/O, no clock.
//!
//! Leaves hash as SHA-256(0x00 ‖ entry) and interior nodes as
//! SHA-256(0x01 ‖ left ‖ right). The tree over `n` leaves splits at the
//! largest power of two smaller than `n` (RFC 9162 §2.1.1).
//!
//! Storage keeps only *perfect* subtrees: the node `(level, index)` is the
//! hash of leaves `[index·2^level, (index+1)·2^level)`. Such a node never
//! changes once its last leaf is appended, so it can be written once and
//! read forever. Every hash a proof needs is either one of those nodes or a
//! right-edge subtree computed from O(log n) of them, which keeps appends and
//! proofs O(log n) (O(log² n) node reads in the worst case for a proof).
//!
//! Node reads go through a caller-supplied function so that the same code
//! serves an in-memory tree, SQLite and PostgreSQL.

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of one log entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The address of a perfect subtree: leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves; leaves are level 0.
    pub level: u8,
    /// Position among the nodes of that level.
    pub index: u64,
}

impl NodeId {
    /// The node for a leaf.
    pub fn leaf(index: u64) -> NodeId {
        NodeId { level: 0, index }
    }
}

/// Why a proof could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The requested index or sizes do not fit the tree.
    #[error("invalid proof request: {0}")]
    OutOfRange(String),
    /// Reading a node failed.
    #[error(transparent)]
    Read(E),
}

/// The largest power of two strictly smaller than `n` (for `n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    match n.saturating_sub(1).checked_ilog2() {
        Some(log) => 1u64 << log,
        None => 1,
    }
}

/// The Merkle tree hash of leaves `[start, end)`, read from perfect subtrees.
pub fn subtree_hash<E, F>(start: u64, end: u64, read: &mut F) -> Result<Hash, E>
where
    F: FnMut(NodeId) -> Result<Hash, E>,
{
    let n = end.saturating_sub(start);
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros() as u8;
        return read(NodeId {
            level,
            index: start >> level,
        });
    }
    let k = split_point(n);
    let left = subtree_hash(start, start + k, read)?;
    let right = subtree_hash(start + k, end, read)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<E, F>(size: u64, read: &mut F) -> Result<Hash, E>
where
    F: FnMut(NodeId) -> Result<Hash, E>,
{
    subtree_hash(0, size, read)
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size`
/// leaves, deepest sibling first, as in RFC 9162 §2.1.3.1.
pub fn inclusion_proof<E, F>(
    index: u64,
    size: u64,
    read: &mut F,
) -> Result<Vec<Hash>, ProofError<E>>
where
    F: FnMut(NodeId) -> Result<Hash, E>,
{
    if index >= size {
        return Err(ProofError::OutOfRange(format!(
            "leaf `{index}` is not in a tree of size `{size}`"
        )));
    }
    let mut path = Vec::new();
    let (mut start, mut end, mut m) = (0u64, size, index);
    // Walk from the root down; siblings are collected top-down then reversed.
    while end - start > 1 {
        let k = split_point(end - start);
        if m < k {
            path.push(subtree_hash(start + k, end, read).map_err(ProofError::Read)?);
            end = start + k;
        } else {
            path.push(subtree_hash(start, start + k, read).map_err(ProofError::Read)?);
            start += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves, as in RFC 9162 §2.1.4.1. Empty when either size is 0 or
/// they are equal.
pub fn consistency_proof<E, F>(
    old_size: u64,
    new_size: u64,
    read: &mut F,
) -> Result<Vec<Hash>, ProofError<E>>
where
    F: FnMut(NodeId) -> Result<Hash, E>,
{
    if old_size > new_size {
        return Err(ProofError::OutOfRange(format!(
            "no consistency proof from size `{old_size}` down to `{new_size}`"
        )));
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let mut proof = Vec::new();
    let (mut start, mut end, mut m, mut complete) = (0u64, new_size, old_size, true);
    loop {
        let n = end - start;
        if m == n {
            if !complete {
                proof.push(subtree_hash(start, end, read).map_err(ProofError::Read)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(subtree_hash(start + k, end, read).map_err(ProofError::Read)?);
            end = start + k;
        } else {
            proof.push(subtree_hash(start, start + k, read).map_err(ProofError::Read)?);
            start += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &r == root
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && old_root == &EMPTY_ROOT;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &fr == old_root && &sr == new_root
}

/// The perfect subtrees that make up a tree of `size` leaves, largest first.
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if size & width != 0 {
            ids.push(NodeId {
                level,
                index: start >> level,
            });
            start += width;
        }
    }
    ids
}

/// The right edge of a tree: its perfect subtrees, largest first. Enough to
/// append a leaf and to compute the root without reading anything else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Frontier {
        Frontier::default()
    }

    /// Loads the frontier of a tree of `size` leaves.
    pub fn load<E, F>(size: u64, read: &mut F) -> Result<Frontier, E>
    where
        F: FnMut(NodeId) -> Result<Hash, E>,
    {
        let mut nodes = Vec::new();
        for id in frontier_ids(size) {
            nodes.push((id, read(id)?));
        }
        Ok(Frontier { size, nodes })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees of the right edge, largest first.
    pub fn nodes(&self) -> &[(NodeId, Hash)] {
        &self.nodes
    }

    /// Appends a leaf and returns every perfect subtree it completes,
    /// the leaf itself first. These are the nodes to store.
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut new = vec![(NodeId::leaf(self.size), leaf)];
        let mut current = (NodeId::leaf(self.size), leaf);
        while let Some(&(left_id, left)) = self.nodes.last() {
            if left_id.level != current.0.level {
                break;
            }
            self.nodes.pop();
            current = (
                NodeId {
                    level: left_id.level + 1,
                    index: left_id.index >> 1,
                },
                node_hash(&left, &current.1),
            );
            new.push(current);
        }
        self.nodes.push(current);
        self.size += 1;
        new
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return EMPTY_ROOT;
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// A whole tree in memory: every perfect subtree, for tests and for checking
/// an exported log.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        for (id, hash) in self.frontier.append(leaf) {
            let level = usize::from(id.level);
            while self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            if let Some(row) = self.levels.get_mut(level) {
                row.push(hash);
            }
        }
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Reads one stored node.
    pub fn node(&self, id: NodeId) -> Result<Hash, MissingNode> {
        usize::try_from(id.index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(id.level))?.get(i))
            .copied()
            .ok_or(MissingNode(id))
    }

    /// A node reader over this tree.
    pub fn reader(&self) -> impl FnMut(NodeId) -> Result<Hash, MissingNode> + '_ {
        move |id| self.node(id)
    }
}

/// A node that a tree does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing Merkle node at level {} index {}", .0.level, .0.index)]
pub struct MissingNode(pub NodeId);

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
