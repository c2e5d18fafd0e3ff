//! What callers submit to the writer: an entry and, for a decision, the
//! arguments it digests, kept apart in the deletable payload table.

use serde_json::{Map, Value};

use crate::entry::Entry;
use crate::error::AuditError;
use crate::time::Timestamp;

/// One submission: the entry and, optionally, the full arguments it digests.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The statement to log.
    pub entry: Entry,
    /// The arguments, kept in the deletable payload table (never in the log).
    pub args: Option<Map<String, Value>>,
    /// The canonical JSON of `args` when it was already encoded for their
    /// digest (it is then `to_canonical_json(args)`); `None` has the
    /// writer encode it.
    pub(crate) payload: Option<Vec<u8>>,
}

impl AppendRequest {
    /// An entry and, optionally, the arguments it digests.
    pub fn new(entry: Entry, args: Option<Map<String, Value>>) -> AppendRequest {
        AppendRequest {
            entry,
            args,
            payload: None,
        }
    }

    /// The decision entry of a request and its decision at `time`, with the
    /// request's arguments as the deletable payload.
    pub fn decision(
        request: &ward_core::Request,
        decision: &ward_core::Decision,
        time: Timestamp,
    ) -> Result<AppendRequest, AuditError> {
        Ok(AppendRequest {
            entry: Entry::decision(request, decision, time)?,
            args: Some(request.args.clone()),
            payload: None,
        })
    }

    /// [`AppendRequest::decision`], for a caller that already holds
    /// `request_digest`, which must be `Digest::of_request(request)`. The
    /// arguments are encoded once, for both their digest and the payload.
    pub fn decision_digested(
        request: &ward_core::Request,
        request_digest: ward_core::Digest,
        decision: &ward_core::Decision,
        time: Timestamp,
    ) -> Result<AppendRequest, AuditError> {
        // One encoding of the arguments gives both their digest, in the
        // entry, and the payload row.
        let payload = ward_core::to_canonical_json(&request.args)
            .map_err(|e| AuditError::Entry(crate::entry::EntryError::Canonical(e.to_string())))?;
        let args_digest = ward_core::Digest::of_bytes(&payload);
        Ok(AppendRequest {
            entry: Entry::decision_digested(request, request_digest, args_digest, decision, time)?,
            args: Some(request.args.clone()),
            payload: Some(payload),
        })
    }
}

impl From<Entry> for AppendRequest {
    fn from(entry: Entry) -> AppendRequest {
        AppendRequest::new(entry, None)
    }
}
