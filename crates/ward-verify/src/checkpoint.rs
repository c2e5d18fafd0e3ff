//! Signed checkpoints and log origins (`docs/receipt-format.md` §2, §3).
//!
//! A checkpoint is trusted only after three checks: the note carries a valid
//! signature by the trusted key, the body is exactly `origin / size / root`
//! (plus ignored extension lines), and the origin is
//! `<key name>/<tenant>/<key id hex>` for that very key, so a key can only
//! vouch for logs named after itself.

use base64::Engine as _;

use crate::error::{Failure, VerifyError};
use crate::merkle::Hash;
use crate::note::{NoteVerifyError, SignedNote, VerifierKey};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree root.
    pub root: Hash,
}

impl Checkpoint {
    /// The tenant named in the origin (already checked against the key).
    pub fn tenant(&self) -> &str {
        tenant_of(&self.origin)
    }
}

/// The tenant part of an origin that passed [`check_origin`].
fn tenant_of(origin: &str) -> &str {
    origin.rsplit('/').nth(1).unwrap_or_default()
}

/// Whether `s` is a valid tenant: 1 to 128 of `[A-Za-z0-9._-]`.
pub(crate) fn is_valid_tenant(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Checks that `origin` is `<key name>/<tenant>/<key id hex>` for `key`, and
/// returns the tenant.
pub fn check_origin<'o>(origin: &'o str, key: &VerifierKey) -> Result<&'o str, Failure> {
    let foreign = |why: String| Failure::ForeignOrigin {
        origin: origin.to_owned(),
        key: key.label(),
        why,
    };
    let rest = origin
        .strip_prefix(key.name())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| foreign(format!("it does not start with `{}/`", key.name())))?;
    let suffix = format!("/{}", key.key_id_hex());
    let tenant = rest
        .strip_suffix(suffix.as_str())
        .ok_or_else(|| foreign(format!("it does not end with the key id `{suffix}`")))?;
    if !is_valid_tenant(tenant) {
        return Err(foreign(format!(
            "`{tenant}` is not a tenant (1 to 128 of `A-Z a-z 0-9 . _ -`)"
        )));
    }
    Ok(tenant)
}

/// Parses a decimal with no sign and no leading zeros.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Decodes base64 of exactly 32 bytes.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    B64.decode(s).ok()?.try_into().ok()
}

/// Parses a checkpoint body (the note text).
pub(crate) fn parse_body(body: &str) -> Result<Checkpoint, String> {
    let Some(body) = body.strip_suffix('\n') else {
        return Err("checkpoint body does not end with a newline".to_owned());
    };
    let mut lines = body.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err("checkpoint body has fewer than three lines".to_owned());
    };
    if origin.is_empty() {
        return Err("checkpoint origin is empty".to_owned());
    }
    let size = parse_decimal(size).ok_or_else(|| {
        format!("checkpoint size `{size}` is not a decimal without leading zeros")
    })?;
    let root = parse_hash(root)
        .ok_or_else(|| format!("checkpoint root `{root}` is not base64 of 32 bytes"))?;
    if lines.any(str::is_empty) {
        return Err("checkpoint has an empty extension line".to_owned());
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// Parses a signed checkpoint and checks its signature and origin against
/// `key`. `location` names the file in errors.
pub fn verify_checkpoint(
    bytes: &[u8],
    key: &VerifierKey,
    location: &str,
) -> Result<Checkpoint, VerifyError> {
    let err = |f: Failure| VerifyError::new(location, f);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(Failure::Malformed(format!("checkpoint is not UTF-8: {e}"))))?;
    let note = SignedNote::parse(text).map_err(|e| err(Failure::Malformed(e)))?;
    verify_note(&note, key).map_err(err)?;
    let checkpoint = parse_body(note.body).map_err(|e| err(Failure::Malformed(e)))?;
    check_origin(&checkpoint.origin, key).map_err(err)?;
    Ok(checkpoint)
}

pub(crate) fn verify_note(note: &SignedNote<'_>, key: &VerifierKey) -> Result<(), Failure> {
    note.verify(key).map_err(|e| match e {
        NoteVerifyError::NoSignature { others } => Failure::NoSignature {
            key: key.label(),
            others,
        },
        NoteVerifyError::BadSignature => Failure::BadSignature { key: key.label() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_hashes() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("10"), Some(10));
        for bad in ["", "01", "+1", "-1", " 1", "1a", "99999999999999999999999"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert!(parse_hash("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_some());
        assert!(parse_hash("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=").is_none());
        assert!(parse_hash("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").is_none());
    }

    #[test]
    fn bodies() {
        let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let cp = parse_body(&format!("ward/x/acme/01020304\n0\n{root}\n")).unwrap();
        assert_eq!(cp.size, 0);
        assert!(parse_body(&format!("ward/x/acme/01020304\n0\n{root}\next\n")).is_ok());
        assert!(parse_body(&format!("ward/x/acme/01020304\n00\n{root}\n")).is_err());
        assert!(parse_body(&format!("ward/x/acme/01020304\n0\n{root}")).is_err());
        assert!(parse_body("ward/x/acme/01020304\n0\n").is_err());
    }

    #[test]
    fn tenants() {
        assert!(is_valid_tenant("acme-eu.1_x"));
        for bad in ["", "a/b", "a b", "a+b", "é"] {
            assert!(!is_valid_tenant(bad), "{bad}");
        }
    }
}
