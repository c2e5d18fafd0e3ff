use super::*;
use proptest::prelude::*;

fn h(hex_str: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out).unwrap();
    out
}

/// The Certificate Transparency reference leaves (RFC 6962 test data, as
/// published with transparency-dev/merkle and certificate-transparency-go).
fn ct_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ] {
        tree.push(leaf_hash(&hex::decode(leaf).unwrap()));
    }
    tree
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
fn roots_match_the_ct_vectors() {
    let tree = ct_tree();
    let mut read = tree.reader();
    for (size, want) in CT_ROOTS.iter().enumerate() {
        assert_eq!(
            root(size as u64, &mut read).unwrap(),
            h(want),
            "size {size}"
        );
    }
    assert_eq!(tree.root(), h(CT_ROOTS[8]));
    assert_eq!(EMPTY_ROOT, h(CT_ROOTS[0]));
}

#[test]
fn inclusion_proofs_match_the_ct_vectors() {
    let tree = ct_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (0, 1, &[]),
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
    ];
    for (index, size, want) in cases {
        let got = inclusion_proof(index, size, &mut tree.reader()).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(got, want, "inclusion {index}/{size}");
        let leaf = tree.node(NodeId::leaf(index)).unwrap();
        assert!(verify_inclusion(
            &leaf,
            index,
            size,
            &got,
            &h(CT_ROOTS[size as usize])
        ));
    }
}

#[test]
fn consistency_proofs_match_the_ct_vectors() {
    let tree = ct_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            2,
            8,
            &[
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
    for (old, new, want) in cases {
        let got = consistency_proof(old, new, &mut tree.reader()).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(got, want, "consistency {old}->{new}");
        assert!(verify_consistency(
            old,
            new,
            &h(CT_ROOTS[old as usize]),
            &h(CT_ROOTS[new as usize]),
            &got
        ));
    }
}

#[test]
fn degenerate_consistency_cases() {
    let tree = ct_tree();
    let r4 = h(CT_ROOTS[4]);
    let r8 = h(CT_ROOTS[8]);
    assert!(verify_consistency(4, 4, &r4, &r4, &[]));
    assert!(!verify_consistency(4, 4, &r4, &r8, &[]));
    assert!(!verify_consistency(4, 4, &r4, &r4, &[r4]));
    assert!(verify_consistency(0, 8, &EMPTY_ROOT, &r8, &[]));
    assert!(!verify_consistency(0, 8, &r4, &r8, &[]));
    assert!(!verify_consistency(8, 4, &r8, &r4, &[]));
    assert!(!verify_consistency(4, 8, &r4, &r8, &[]));
    assert!(consistency_proof(5, 3, &mut tree.reader()).is_err());
    assert!(inclusion_proof(8, 8, &mut tree.reader()).is_err());
    assert!(!verify_inclusion(&r4, 8, 8, &[], &r8));
}

#[test]
fn frontier_roots_agree_with_recursive_roots() {
    let mut tree = MemoryTree::new();
    for i in 0..300u32 {
        tree.push(leaf_hash(&i.to_be_bytes()));
        let size = tree.size();
        let loaded = Frontier::load(size, &mut tree.reader()).unwrap();
        assert_eq!(loaded.root(), root(size, &mut tree.reader()).unwrap());
        assert_eq!(loaded.root(), tree.root());
    }
}

fn tree_of(n: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..n {
        tree.push(leaf_hash(&i.to_le_bytes()));
    }
    tree
}

proptest! {
    #[test]
    fn every_inclusion_proof_verifies_and_wrong_leaves_fail(n in 1u64..600, seed in any::<u64>()) {
        let tree = tree_of(n);
        let index = seed % n;
        let size = index + 1 + (seed / n) % (n - index);
        let proof = inclusion_proof(index, size, &mut tree.reader()).unwrap();
        let r = root(size, &mut tree.reader()).unwrap();
        let leaf = tree.node(NodeId::leaf(index)).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &r));
        prop_assert!(!verify_inclusion(&leaf_hash(b"other"), index, size, &proof, &r));
        if size > 1 {
            prop_assert!(!verify_inclusion(&leaf, (index + 1) % size, size, &proof, &r));
        }
        if let Some((last, head)) = proof.split_last() {
            let mut bad = head.to_vec();
            let mut flipped = *last;
            flipped[0] ^= 1;
            bad.push(flipped);
            prop_assert!(!verify_inclusion(&leaf, index, size, &bad, &r));
            prop_assert!(!verify_inclusion(&leaf, index, size, head, &r));
        }
    }

    #[test]
    fn every_consistency_proof_verifies(n in 1u64..600, a in any::<u64>(), b in any::<u64>()) {
        let tree = tree_of(n);
        let (x, y) = (a % (n + 1), b % (n + 1));
        let (old, new) = (x.min(y), x.max(y));
        let proof = consistency_proof(old, new, &mut tree.reader()).unwrap();
        let old_root = root(old, &mut tree.reader()).unwrap();
        let new_root = root(new, &mut tree.reader()).unwrap();
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof));
        if old > 0 && old < new {
            let wrong = leaf_hash(b"forged");
            prop_assert!(!verify_consistency(old, new, &wrong, &new_root, &proof));
            prop_assert!(!verify_consistency(old, new, &old_root, &wrong, &proof));
            if let Some((first, rest)) = proof.split_first() {
                let mut bad = vec![node_hash(first, first)];
                bad.extend_from_slice(rest);
                prop_assert!(!verify_consistency(old, new, &old_root, &new_root, &bad));
            }
        }
    }
}
