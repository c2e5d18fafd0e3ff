//! Keys, checkpoints, signed notes, receipts and consistency-proof files,
//! byte for byte as `docs/receipt-format.md` §2–§5 fixes them. Pure: signing
//! is computation, and randomness for new keys comes from the caller.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::entry::{valid_tenant, Entry};
use crate::merkle::{self, Hash};

/// The receipt header line.
pub const RECEIPT_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The consistency-proof file header line.
pub const CONSISTENCY_HEADER: &str = "ward/consistency-proof@v1";
/// The signed-note signature type byte for Ed25519.
const ED25519_TYPE: u8 = 0x01;
const EM_DASH_PREFIX: &str = "\u{2014} ";

/// Why a key, note, receipt or proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name that the format does not allow.
    #[error("invalid key name `{0}`: it must be non-empty, with no whitespace and no `+`")]
    KeyName(String),
    /// A verifier or private key string that does not parse.
    #[error("invalid key string: {0}")]
    KeyString(String),
    /// Text that does not follow the format.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which format.
        what: &'static str,
        /// What was wrong.
        why: String,
    },
    /// No valid signature by the trusted key.
    #[error("checkpoint is not signed by `{0}`")]
    Unsigned(String),
    /// A signature line with the trusted key's name and id that does not verify.
    #[error("bad signature by `{0}`")]
    BadSignature(String),
    /// The origin does not belong to the key.
    #[error("origin `{origin}` is not a log of key `{key}`")]
    WrongOrigin {
        /// The origin found.
        origin: String,
        /// The key name.
        key: String,
    },
    /// The entry's tenant differs from the origin's.
    #[error("entry tenant `{entry}` differs from the origin's tenant `{origin}`")]
    WrongTenant {
        /// The entry's tenant.
        entry: String,
        /// The origin's tenant.
        origin: String,
    },
    /// The inclusion proof does not lead to the checkpoint root.
    #[error(
        "inclusion proof of entry {index} does not verify against the checkpoint of size {size}"
    )]
    NotIncluded {
        /// The index.
        index: u64,
        /// The checkpoint size.
        size: u64,
    },
}

fn malformed(what: &'static str, why: impl Into<String>) -> NoteError {
    NoteError::Malformed {
        what,
        why: why.into(),
    }
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, ED25519_TYPE]);
    h.update(public);
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

fn decode_hash(s: &str, what: &'static str) -> Result<Hash, NoteError> {
    let bytes = B64
        .decode(s)
        .map_err(|e| malformed(what, format!("`{s}` is not base64: {e}")))?;
    Hash::try_from(bytes.as_slice()).map_err(|_| malformed(what, format!("`{s}` is not 32 bytes")))
}

fn parse_decimal(s: &str, what: &'static str) -> Result<u64, NoteError> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(malformed(
            what,
            format!("`{s}` is not a decimal without leading zeros"),
        ));
    }
    s.parse()
        .map_err(|_| malformed(what, format!("`{s}` is out of range")))
}

/// A log's Ed25519 signing key with its signed-note name.
pub struct LogKey {
    name: String,
    signing: SigningKey,
    id: [u8; 4],
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("name", &self.name)
            .field("id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

impl LogKey {
    /// A key from its 32-byte RFC 8032 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<LogKey, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        let signing = SigningKey::from_bytes(&seed);
        let id = key_id(name, signing.verifying_key().as_bytes());
        Ok(LogKey {
            name: name.to_owned(),
            signing,
            id,
        })
    }

    /// Parses a private key line, `PRIVATE+KEY+<name>+<id hex>+<base64(0x01 || seed)>`.
    pub fn from_private_string(text: &str) -> Result<LogKey, NoteError> {
        let bad = |why: &str| NoteError::KeyString(why.to_owned());
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("a private key starts with `PRIVATE+KEY+`"))?;
        let (name, id_hex, data) =
            split_key_fields(rest).ok_or_else(|| bad("expected `<name>+<id>+<key>`"))?;
        let raw = B64.decode(data).map_err(|_| bad("the key is not base64"))?;
        let (kind, seed) = raw.split_first().ok_or_else(|| bad("empty key"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("the seed is not 32 bytes"))?;
        if *kind != ED25519_TYPE {
            return Err(bad("not an Ed25519 key"));
        }
        let key = LogKey::from_seed(name, seed)?;
        if key.key_id_hex() != id_hex {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(key)
    }

    /// The private key line (without LF). Secret: write it only to a 0600 file.
    pub fn private_string(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.signing.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            self.key_id_hex(),
            B64.encode(raw)
        )
    }

    /// The signed-note key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The key id as 8 lowercase hex digits.
    pub fn key_id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// The public half.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key: self.signing.verifying_key(),
            id: self.id,
        }
    }

    /// The origin of this key's log for `tenant`.
    pub fn origin(&self, tenant: &str) -> String {
        format!("{}/{}/{}", self.name, tenant, self.key_id_hex())
    }

    /// One signature line over `body`, ending in LF.
    fn signature_line(&self, body: &str) -> String {
        let sig = self.signing.sign(body.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{EM_DASH_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }
}

fn split_key_fields(s: &str) -> Option<(&str, &str, &str)> {
    // The name may not contain `+`; the base64 data may.
    let (name, rest) = s.split_once('+')?;
    let (id, data) = rest.split_once('+')?;
    Some((name, id, data))
}

/// A verifier key: what an auditor holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key: VerifyingKey,
    id: [u8; 4],
}

impl VerifierKey {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id as 8 lowercase hex digits.
    pub fn key_id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// The tenant of `origin` if the origin belongs to this key (§2).
    pub fn origin_tenant<'a>(&self, origin: &'a str) -> Option<&'a str> {
        let tenant = origin
            .strip_prefix(self.name.as_str())?
            .strip_prefix('/')?
            .strip_suffix(self.key_id_hex().as_str())?
            .strip_suffix('/')?;
        valid_tenant(tenant).then_some(tenant)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<VerifierKey, NoteError> {
        let bad = |why: &str| NoteError::KeyString(format!("`{s}`: {why}"));
        let (name, id_hex, data) =
            split_key_fields(s).ok_or_else(|| bad("expected `<name>+<id>+<key>`"))?;
        if !valid_key_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        let raw = B64.decode(data).map_err(|_| bad("the key is not base64"))?;
        let (kind, public) = raw.split_first().ok_or_else(|| bad("empty key"))?;
        if *kind != ED25519_TYPE {
            return Err(bad("not an Ed25519 key"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("the key is not 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 point"))?;
        let id = key_id(name, &public);
        if hex::encode(id) != id_hex {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key,
            id,
        })
    }
}

/// A checkpoint body: origin, size and root (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 9162 root of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The body text, ending in LF. Ward writes no extension lines.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Signs the body as a signed note.
    pub fn sign(&self, key: &LogKey) -> SignedCheckpoint {
        let body = self.body();
        let text = format!("{body}\n{}", key.signature_line(&body));
        SignedCheckpoint {
            checkpoint: self.clone(),
            text,
        }
    }
}

/// A signed checkpoint: the checkpoint and its note text, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: String,
}

struct SignatureLine<'a> {
    name: &'a str,
    id: [u8; 4],
    sig: Signature,
}

impl SignedCheckpoint {
    /// Parses a note without checking signatures. Use [`Self::verify`] to trust it.
    pub fn parse(text: &str) -> Result<SignedCheckpoint, NoteError> {
        let (body, _) = split_note(text)?;
        let checkpoint = parse_body(body)?;
        Ok(SignedCheckpoint {
            checkpoint,
            text: text.to_owned(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Adds a signature line by `key` over the same body (a countersignature).
    pub fn countersign(&self, key: &LogKey) -> SignedCheckpoint {
        let body = self.checkpoint.body();
        SignedCheckpoint {
            checkpoint: self.checkpoint.clone(),
            text: format!("{}{}", self.text, key.signature_line(&body)),
        }
    }

    /// Checks the signature by `key` (§3.2) and the origin against `key` (§2).
    pub fn verify(&self, key: &VerifierKey) -> Result<&Checkpoint, NoteError> {
        self.verify_signature(key)?;
        if key.origin_tenant(&self.checkpoint.origin).is_none() {
            return Err(NoteError::WrongOrigin {
                origin: self.checkpoint.origin.clone(),
                key: key.name.clone(),
            });
        }
        Ok(&self.checkpoint)
    }

    /// Checks only the signature by `key`, whatever the origin (for a
    /// rotation countersignature, whose origin belongs to the old key).
    pub fn verify_signature(&self, key: &VerifierKey) -> Result<(), NoteError> {
        let (body, lines) = split_note(&self.text)?;
        let mut signed = false;
        for line in lines {
            if line.name == key.name && line.id == key.id {
                key.key
                    .verify_strict(body.as_bytes(), &line.sig)
                    .map_err(|_| NoteError::BadSignature(key.name.clone()))?;
                signed = true;
            }
        }
        if signed {
            Ok(())
        } else {
            Err(NoteError::Unsigned(key.name.clone()))
        }
    }
}

fn split_note(text: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    let what = "signed note";
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(malformed(what, "control character"));
    }
    let pos = text
        .rfind("\n\n")
        .ok_or_else(|| malformed(what, "no blank line before the signatures"))?;
    let body = text
        .get(..=pos)
        .ok_or_else(|| malformed(what, "bad split"))?;
    let sigs = text
        .get(pos + 2..)
        .ok_or_else(|| malformed(what, "bad split"))?;
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or_else(|| malformed(what, "must end with LF"))?;
    let mut lines = Vec::new();
    for line in sigs.split('\n') {
        let rest = line.strip_prefix(EM_DASH_PREFIX).ok_or_else(|| {
            malformed(
                what,
                format!("signature line `{line}` does not start with an em dash"),
            )
        })?;
        let (name, data) = rest
            .split_once(' ')
            .ok_or_else(|| malformed(what, format!("signature line `{line}` has no signature")))?;
        let raw = B64
            .decode(data)
            .map_err(|_| malformed(what, format!("signature `{data}` is not base64")))?;
        if raw.len() < 5 {
            return Err(malformed(what, "signature too short"));
        }
        let (id, sig) = raw.split_at(4);
        let id: [u8; 4] = id.try_into().map_err(|_| malformed(what, "bad key id"))?;
        // Lines of other signature types or lengths are ignored (another key's).
        if let Ok(sig) = Signature::from_slice(sig) {
            lines.push(SignatureLine { name, id, sig });
        }
    }
    Ok((body, lines))
}

fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
    let what = "checkpoint";
    let mut lines = body
        .strip_suffix('\n')
        .ok_or_else(|| malformed(what, "must end with LF"))?
        .split('\n');
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| malformed(what, "no origin"))?;
    let size = parse_decimal(
        lines.next().ok_or_else(|| malformed(what, "no size"))?,
        what,
    )?;
    let root = decode_hash(
        lines.next().ok_or_else(|| malformed(what, "no root"))?,
        what,
    )?;
    if lines.any(str::is_empty) {
        return Err(malformed(what, "empty extension line"));
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// A receipt: a C2SP tlog-proof carrying the entry (§4).
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The exact entry bytes.
    pub entry: Vec<u8>,
    /// The entry's index in the log.
    pub index: u64,
    /// The inclusion path, leaf's sibling first.
    pub path: Vec<Hash>,
    /// The signed checkpoint the path leads to.
    pub checkpoint: SignedCheckpoint,
}

impl Receipt {
    /// The receipt text.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "{RECEIPT_HEADER}\nextra {}\nindex {}\n",
            B64.encode(&self.entry),
            self.index
        );
        for h in &self.path {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(self.checkpoint.text());
        out
    }

    /// Parses receipt text, without verifying it.
    pub fn parse(text: &str) -> Result<Receipt, NoteError> {
        let what = "receipt";
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| malformed(what, "no blank line"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(RECEIPT_HEADER) {
            return Err(malformed(
                what,
                format!("first line must be `{RECEIPT_HEADER}`"),
            ));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or_else(|| malformed(what, "no `extra` line"))?;
        let entry = B64
            .decode(extra)
            .map_err(|_| malformed(what, "`extra` is not base64"))?;
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| malformed(what, "no `index` line"))?;
        let index = parse_decimal(index, what)?;
        let path = lines
            .map(|l| decode_hash(l, what))
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoint = SignedCheckpoint::parse(note)?;
        Ok(Receipt {
            entry,
            index,
            path,
            checkpoint,
        })
    }

    /// Verifies the receipt under `key`, in the order §4 gives, and returns the entry.
    pub fn verify(&self, key: &VerifierKey) -> Result<Entry, NoteError> {
        let entry = Entry::parse(&self.entry).map_err(|e| malformed("receipt", e.to_string()))?;
        let cp = self.checkpoint.verify(key)?;
        if self.index >= cp.size {
            return Err(malformed(
                "receipt",
                "index is not below the checkpoint size",
            ));
        }
        let origin_tenant = key.origin_tenant(&cp.origin).unwrap_or_default();
        if entry.tenant() != origin_tenant {
            return Err(NoteError::WrongTenant {
                entry: entry.tenant().to_owned(),
                origin: origin_tenant.to_owned(),
            });
        }
        let leaf = merkle::leaf_hash(&self.entry);
        if !merkle::verify_inclusion(&leaf, self.index, cp.size, &self.path, &cp.root) {
            return Err(NoteError::NotIncluded {
                index: self.index,
                size: cp.size,
            });
        }
        Ok(entry)
    }
}

/// A consistency-proof file (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The old size.
    pub old: u64,
    /// The new size.
    pub new: u64,
    /// RFC 9162 proof hashes.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// The file text.
    pub fn encode(&self) -> String {
        let mut out = format!("{CONSISTENCY_HEADER}\nold {}\nnew {}\n", self.old, self.new);
        for h in &self.hashes {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out
    }

    /// Parses the file text.
    pub fn parse(text: &str) -> Result<ConsistencyProof, NoteError> {
        let what = "consistency proof";
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed(what, "must end with LF"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(CONSISTENCY_HEADER) {
            return Err(malformed(
                what,
                format!("first line must be `{CONSISTENCY_HEADER}`"),
            ));
        }
        let mut size = |prefix: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(prefix))
                .ok_or_else(|| malformed(what, format!("no `{prefix}` line")))
                .and_then(|s| parse_decimal(s, what))
        };
        let (old, new) = (size("old ")?, size("new ")?);
        let hashes = lines
            .map(|l| decode_hash(l, what))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConsistencyProof { old, new, hashes })
    }

    /// Checks the proof between two checkpoints of the same log.
    pub fn verify(&self, old: &Checkpoint, new: &Checkpoint) -> bool {
        old.origin == new.origin
            && self.old == old.size
            && self.new == new.size
            && merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &self.hashes)
    }
}

/// Base64 of a root hash, as the rotation statement records it.
pub fn root_base64(root: &Hash) -> String {
    B64.encode(root)
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
