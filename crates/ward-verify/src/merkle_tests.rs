//! Known-answer tests from the Certificate Transparency reference vectors
//! (RFC 6962 test leaves, as used by Go's transparency-dev/merkle), and an
//! exhaustive cross-check against a direct transcription of the RFC 9162
//! recursive definitions.

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h(s: &str) -> Hash {
    unhex(s).try_into().unwrap()
}

fn ct_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| unhex(s))
    .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn incremental_roots_match_the_ct_vectors() {
    let mut tree = TreeBuilder::new();
    assert_eq!(tree.root(), h(CT_ROOTS[0]));
    for (i, leaf) in ct_leaves().iter().enumerate() {
        tree.push_leaf_hash(leaf_hash(leaf));
        assert_eq!(tree.root(), h(CT_ROOTS[i + 1]), "size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_from_the_ct_vectors_verify() {
    // (0-based index, size, path)
    let cases: [(u64, u64, &[&str]); 5] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (0, 1, &[]),
    ];
    let leaves = ct_leaves();
    for (index, size, path) in cases {
        let path: Vec<Hash> = path.iter().map(|s| h(s)).collect();
        let leaf = leaf_hash(&leaves[index as usize]);
        let root = h(CT_ROOTS[size as usize]);
        verify_inclusion(index, size, &leaf, &path, &root).unwrap();
        // Off by one in any direction fails.
        assert!(verify_inclusion(index + 1, size, &leaf, &path, &root).is_err());
        assert!(verify_inclusion(index, size * 2, &leaf, &path, &root).is_err());
        if size > 1 {
            assert!(verify_inclusion(index, size / 2, &leaf, &path, &root).is_err());
        }
        let mut longer = path.clone();
        longer.push(root);
        assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
    }
}

#[test]
fn consistency_proofs_from_the_ct_vectors_verify() {
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, new, proof) in cases {
        let proof: Vec<Hash> = proof.iter().map(|s| h(s)).collect();
        let old_root = h(CT_ROOTS[old as usize]);
        let new_root = h(CT_ROOTS[new as usize]);
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
        if !proof.is_empty() {
            assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
            assert!(verify_consistency(old, new, &old_root, &new_root, &proof[1..]).is_err());
        }
    }
}

#[test]
fn trivial_consistency_cases() {
    let a = leaf_hash(b"a");
    let b = leaf_hash(b"b");
    assert!(verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).is_ok());
    assert!(verify_consistency(0, 5, &empty_root(), &b, &[]).is_ok());
    assert!(verify_consistency(0, 5, &a, &b, &[]).is_err());
    assert_eq!(
        verify_consistency(3, 3, &a, &b, &[]),
        Err(ProofError::Fork { size: 3 })
    );
    assert!(matches!(
        verify_consistency(4, 3, &a, &a, &[]),
        Err(ProofError::Shrunk { .. })
    ));
    assert!(verify_consistency(1, 2, &a, &b, &[]).is_err());
}

// ----- a direct transcription of RFC 9162 §2.1, used as the reference -----

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let k = largest_power_of_two_below(n as u64) as usize;
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { vec![] } else { vec![mth(leaves)] };
    }
    let k = largest_power_of_two_below(n as u64) as usize;
    if m <= k {
        let mut p = subproof(m, &leaves[..k], complete);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

#[test]
fn every_proof_up_to_size_40_agrees_with_the_rfc_definitions() {
    let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut tree = TreeBuilder::new();
    for n in 1..=leaves.len() {
        tree.push_leaf_hash(leaves[n - 1]);
        let root = mth(&leaves[..n]);
        assert_eq!(tree.root(), root, "size {n}");
        for m in 0..n {
            let p = path(m, &leaves[..n]);
            assert_eq!(p.len(), inclusion_proof_len(m as u64, n as u64));
            verify_inclusion(m as u64, n as u64, &leaves[m], &p, &root).unwrap();
            // A proof for one leaf never verifies another.
            let other = (m + 1) % n;
            if other != m {
                assert!(verify_inclusion(other as u64, n as u64, &leaves[m], &p, &root).is_err());
            }
        }
        for m in 1..n {
            let proof = subproof(m, &leaves[..n], true);
            assert_eq!(proof.len(), consistency_proof_len(m as u64, n as u64));
            let old_root = mth(&leaves[..m]);
            verify_consistency(m as u64, n as u64, &old_root, &root, &proof).unwrap();
            let forked = leaf_hash(b"fork");
            assert!(verify_consistency(m as u64, n as u64, &forked, &root, &proof).is_err());
            assert!(verify_consistency(m as u64, n as u64, &old_root, &forked, &proof).is_err());
            if let Some((_, shorter)) = proof.split_last() {
                assert!(verify_consistency(m as u64, n as u64, &old_root, &root, shorter).is_err());
            }
        }
    }
}

#[test]
fn huge_sizes_do_not_overflow() {
    let leaf = leaf_hash(b"x");
    assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
    assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
    assert!(verify_inclusion(u64::MAX - 1, u64::MAX, &leaf, &[], &leaf).is_err());
    assert!(verify_consistency(1, u64::MAX, &leaf, &leaf, &[leaf]).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &leaf, &leaf, &[leaf]).is_err());
}
