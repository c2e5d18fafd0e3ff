//! C2SP signed notes with Ed25519 keys (`docs/receipt-format.md` §3).
//!
//! A note is text, a blank line and signature lines
//! `— <key name> <base64(key id || signature)>`. The key id binds the
//! signature to a name *and* a key, so a verifier looks for the line with its
//! trusted key's name and id, ignores every other line (witnesses, a rotation
//! countersignature), and rejects the note if that line does not verify.

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The signed-note signature type of Ed25519.
const ED25519_TYPE: u8 = 0x01;

/// Go's `note.Open` refuses notes with more signatures than this; so do we.
const MAX_SIGNATURES: usize = 100;

/// The em dash and space that open a signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// A public key an auditor trusts, from its verifier key string
/// `<name>+<8 hex key id>+<base64(0x01 || public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

/// The 4-byte key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(public_key);
    let digest: [u8; 32] = hasher.finalize().into();
    let [a, b, c, d, ..] = digest;
    [a, b, c, d]
}

/// Whether `name` may be a key name: non-empty, no whitespace, no `+`.
pub(crate) fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

pub(crate) fn hex4(bytes: &[u8; 4]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl VerifierKey {
    /// Parses a verifier key string, checking that its key id matches its
    /// name and key.
    pub fn parse(s: &str) -> Result<VerifierKey, String> {
        // The base64 part may itself contain `+`; the name and id cannot.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "verifier key `{s}` is not of the form `<name>+<8 hex key id>+<base64 key>`"
            ));
        };
        if !is_valid_key_name(name) {
            return Err(format!(
                "verifier key name `{name}` is empty or has whitespace"
            ));
        }
        let id = parse_hex4(id_hex)
            .ok_or_else(|| format!("verifier key id `{id_hex}` is not 8 lowercase hex digits"))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|e| format!("verifier key `{key_b64}` is not base64: {e}"))?;
        let Some((&kind, public)) = raw.split_first() else {
            return Err("verifier key is empty".to_owned());
        };
        if kind != ED25519_TYPE {
            return Err(format!(
                "verifier key type 0x{kind:02x} is not Ed25519 (0x01)"
            ));
        }
        let public: [u8; 32] = public.try_into().map_err(|_| {
            format!(
                "verifier key holds {} bytes, not a 32-byte Ed25519 key",
                public.len()
            )
        })?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|e| format!("verifier key is not an Ed25519 point: {e}"))?;
        let expected = key_id(name, &public);
        if expected != id {
            return Err(format!(
                "verifier key id `{id_hex}` does not match its name and key (expected `{}`)",
                hex4(&expected)
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The key id as 8 lowercase hex digits.
    pub fn key_id_hex(&self) -> String {
        hex4(&self.key_id)
    }

    /// `<name>+<hex key id>`, how errors name the key.
    pub fn label(&self) -> String {
        format!("{}+{}", self.name, self.key_id_hex())
    }

    /// The verifier key string.
    pub fn to_vkey_string(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_TYPE);
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id_hex(), B64.encode(raw))
    }
}

fn parse_hex4(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let n = u32::from_str_radix(s, 16).ok()?;
    Some(n.to_be_bytes())
}

/// One signature line.
#[derive(Debug, Clone)]
pub(crate) struct NoteSignature {
    pub(crate) name: String,
    pub(crate) key_id: [u8; 4],
    pub(crate) signature: Vec<u8>,
}

/// A parsed signed note.
#[derive(Debug, Clone)]
pub(crate) struct SignedNote<'a> {
    /// The signed text, including its final LF.
    pub(crate) body: &'a str,
    pub(crate) signatures: Vec<NoteSignature>,
}

/// Why a note does not verify under a key.
#[derive(Debug)]
pub(crate) enum NoteVerifyError {
    NoSignature { others: String },
    BadSignature,
}

impl<'a> SignedNote<'a> {
    /// Parses a note; the text must be UTF-8 without control characters other
    /// than LF, and end with the LF of its last signature line.
    pub(crate) fn parse(text: &'a str) -> Result<SignedNote<'a>, String> {
        if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
            return Err(format!(
                "note contains the control character U+{:04X}",
                u32::from(c)
            ));
        }
        let Some(split) = text.rfind("\n\n") else {
            return Err("note has no blank line before its signatures".to_owned());
        };
        let body = text.get(..=split).unwrap_or_default();
        let sig_block = text.get(split + 2..).unwrap_or_default();
        if body.len() <= 1 {
            return Err("note text is empty".to_owned());
        }
        if sig_block.is_empty() {
            return Err("note has no signature lines".to_owned());
        }
        let Some(sig_block) = sig_block.strip_suffix('\n') else {
            return Err("note does not end with a newline".to_owned());
        };
        let mut signatures = Vec::new();
        for line in sig_block.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(format!("note has more than {MAX_SIGNATURES} signatures"));
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(SignedNote { body, signatures })
    }

    /// Checks that at least one line is by `key` and that every line by
    /// `key` verifies.
    pub(crate) fn verify(&self, key: &VerifierKey) -> Result<(), NoteVerifyError> {
        let mut found = false;
        for sig in &self.signatures {
            if sig.name != key.name || sig.key_id != key.key_id {
                continue;
            }
            found = true;
            let bytes: [u8; 64] = sig
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| NoteVerifyError::BadSignature)?;
            key.key
                .verify_strict(self.body.as_bytes(), &Signature::from_bytes(&bytes))
                .map_err(|_| NoteVerifyError::BadSignature)?;
        }
        if found {
            Ok(())
        } else {
            let others: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("`{}+{}`", s.name, hex4(&s.key_id)))
                .collect();
            Err(NoteVerifyError::NoSignature {
                others: others.join(", "),
            })
        }
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, String> {
    let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
        return Err(format!(
            "signature line `{line}` does not start with an em dash and a space"
        ));
    };
    let Some((name, sig_b64)) = rest.split_once(' ') else {
        return Err(format!("signature line `{line}` has no signature"));
    };
    if !is_valid_key_name(name) {
        return Err(format!("signature line `{line}` has an invalid key name"));
    }
    let raw = B64
        .decode(sig_b64)
        .map_err(|e| format!("signature line `{line}` is not base64: {e}"))?;
    let Some((id, signature)) = raw.split_first_chunk::<4>() else {
        return Err(format!("signature line `{line}` is shorter than a key id"));
    };
    if signature.is_empty() {
        return Err(format!("signature line `{line}` has no signature bytes"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: *id,
        signature: signature.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn test_key(name: &str, seed: u8) -> (SigningKey, VerifierKey) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let pk = sk.verifying_key().to_bytes();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&pk);
        let vkey = format!("{name}+{}+{}", hex4(&key_id(name, &pk)), B64.encode(&raw));
        (sk, VerifierKey::parse(&vkey).unwrap())
    }

    fn sign(body: &str, name: &str, sk: &SigningKey) -> String {
        let id = key_id(name, &sk.verifying_key().to_bytes());
        let mut raw = id.to_vec();
        raw.extend_from_slice(&sk.sign(body.as_bytes()).to_bytes());
        format!("\u{2014} {name} {}\n", B64.encode(raw))
    }

    #[test]
    fn key_string_round_trips_and_rejects_a_wrong_id() {
        let (_, vk) = test_key("ward/test", 7);
        let s = vk.to_vkey_string();
        assert_eq!(VerifierKey::parse(&s).unwrap(), vk);
        let mut parts: Vec<&str> = s.splitn(3, '+').collect();
        parts[1] = "00000000";
        assert!(VerifierKey::parse(&parts.join("+"))
            .unwrap_err()
            .contains("does not match"));
        assert!(VerifierKey::parse("nope").is_err());
    }

    #[test]
    fn a_note_verifies_only_under_its_key() {
        let (sk, vk) = test_key("ward/test", 7);
        let (other_sk, other_vk) = test_key("ward/other", 8);
        let body = "hello\nworld\n";
        let note = format!(
            "{body}\n{}{}",
            sign(body, "ward/test", &sk),
            sign(body, "ward/other", &other_sk)
        );
        let parsed = SignedNote::parse(&note).unwrap();
        assert_eq!(parsed.body, body);
        assert!(parsed.verify(&vk).is_ok());
        assert!(parsed.verify(&other_vk).is_ok());
        let (_, third) = test_key("ward/third", 9);
        assert!(matches!(
            parsed.verify(&third),
            Err(NoteVerifyError::NoSignature { .. })
        ));
        let tampered = note.replace("hello", "hellO");
        assert!(matches!(
            SignedNote::parse(&tampered).unwrap().verify(&vk),
            Err(NoteVerifyError::BadSignature)
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        for bad in [
            "",
            "a\n",
            "a\n\n",
            "a\n\nx\n",
            "a\n\n\u{2014} n AAAA\n",
            "a\r\n\n\u{2014} n AAAAAA==\n",
        ] {
            assert!(SignedNote::parse(bad).is_err(), "{bad:?}");
        }
    }
}
