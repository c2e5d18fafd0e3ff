//! Receipts: C2SP `tlog-proof@v1` texts carrying their entry in the `extra`
//! line (`docs/receipt-format.md` §4).
//!
//! The `extra` data is untrusted until the leaf hash of those exact bytes is
//! shown, by the inclusion path, to be under a checkpoint root that the
//! trusted key signed. Nothing in a receipt is believed before that.

use base64::Engine as _;

use crate::checkpoint::{check_origin, parse_body, parse_decimal, parse_hash, verify_note};
use crate::error::{Failure, VerifyError};
use crate::merkle::{leaf_hash, verify_inclusion, Hash};
use crate::note::{SignedNote, VerifierKey};
use crate::statement::{parse_statement, Kind, StatementError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The first line of every receipt.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The log's origin.
    pub origin: String,
    /// The entry's index.
    pub index: u64,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The entry's kind.
    pub kind: Kind,
    /// The entry bytes, now proven to be in the log.
    pub entry: Vec<u8>,
}

/// Takes the next line (without its LF), or `None` at the end of the text.
fn next_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let (line, tail) = rest.split_once('\n')?;
    *rest = tail;
    Some(line)
}

/// Verifies a receipt under `key`; `location` names it in errors.
pub fn verify_receipt(
    bytes: &[u8],
    key: &VerifierKey,
    location: &str,
) -> Result<VerifiedReceipt, VerifyError> {
    let err = |f: Failure| VerifyError::new(location, f);
    let malformed = |m: String| err(Failure::Malformed(m));
    let text =
        std::str::from_utf8(bytes).map_err(|e| malformed(format!("receipt is not UTF-8: {e}")))?;
    let mut rest = text;
    let truncated = || {
        err(Failure::Truncated(
            "receipt ends before its checkpoint".to_owned(),
        ))
    };

    let header = next_line(&mut rest).ok_or_else(truncated)?;
    if header != TLOG_PROOF_HEADER {
        return Err(malformed(format!(
            "first line is `{header}`, not `{TLOG_PROOF_HEADER}`"
        )));
    }
    let extra = next_line(&mut rest).ok_or_else(truncated)?;
    let Some(extra_b64) = extra.strip_prefix("extra ") else {
        return Err(malformed(
            "second line is not `extra <base64 entry>`; a Ward receipt carries its entry"
                .to_owned(),
        ));
    };
    let entry = B64
        .decode(extra_b64)
        .map_err(|e| malformed(format!("`extra` is not base64: {e}")))?;
    let index_line = next_line(&mut rest).ok_or_else(truncated)?;
    let index = index_line
        .strip_prefix("index ")
        .and_then(parse_decimal)
        .ok_or_else(|| {
            malformed(format!(
                "third line is `{index_line}`, not `index <decimal without leading zeros>`"
            ))
        })?;
    let mut path: Vec<Hash> = Vec::new();
    loop {
        let line = next_line(&mut rest).ok_or_else(truncated)?;
        if line.is_empty() {
            break;
        }
        let hash = parse_hash(line).ok_or_else(|| {
            malformed(format!(
                "inclusion path line {} `{line}` is not base64 of 32 bytes",
                path.len() + 1
            ))
        })?;
        path.push(hash);
    }

    let statement = parse_statement(&entry).map_err(|e| match e {
        StatementError::NotJson(m) => err(Failure::NotJson(format!("the `extra` entry: {m}"))),
        StatementError::Invalid(m) => err(Failure::InvalidEntry(format!("the `extra` entry: {m}"))),
    })?;

    let note = SignedNote::parse(rest).map_err(|m| malformed(format!("checkpoint: {m}")))?;
    verify_note(&note, key).map_err(err)?;
    let checkpoint = parse_body(note.body).map_err(|m| malformed(format!("checkpoint: {m}")))?;
    let tenant = check_origin(&checkpoint.origin, key).map_err(err)?;
    if statement.tenant != tenant {
        return Err(err(Failure::TenantMismatch {
            found: statement.tenant,
            expected: tenant.to_owned(),
        }));
    }
    verify_inclusion(
        index,
        checkpoint.size,
        &leaf_hash(&entry),
        &path,
        &checkpoint.root,
    )
    .map_err(|e| {
        VerifyError::new(
            format!("{location} (entry {index}, tree size {})", checkpoint.size),
            Failure::Inclusion(e),
        )
    })?;
    Ok(VerifiedReceipt {
        origin: checkpoint.origin,
        index,
        size: checkpoint.size,
        kind: statement.kind,
        entry,
    })
}
