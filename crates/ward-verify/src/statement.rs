//! Validation of v1 statements (`docs/receipt-format.md` §1).
//!
//! The verifier hashes the entry bytes it is given and never re-encodes them;
//! this module only decides whether those bytes are a well-formed v1
//! statement. It is strict on purpose: a member that is missing, unknown,
//! `null` or of the wrong shape makes the entry invalid, so two
//! implementations cannot silently disagree on what an entry says.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use crate::checkpoint::{is_valid_tenant, parse_hash};
use crate::note::VerifierKey;

/// `2^53 - 1`, the largest integer a statement may hold.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The kind of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A gate decision.
    Decision,
    /// An approver's verdict.
    Approval,
    /// What a tool call actually did.
    Execution,
    /// The first entry of a log started by key rotation.
    Rotation,
}

impl Kind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Decision => "decision",
            Kind::Approval => "approval",
            Kind::Execution => "execution",
            Kind::Rotation => "rotation",
        }
    }
}

/// The old log a `rotation` statement points back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// The old origin.
    pub origin: String,
    /// The old log's final size.
    pub size: u64,
    /// The old log's final root.
    pub root: [u8; 32],
    /// The old log's key.
    pub key: VerifierKey,
}

/// What the verifier needs from a valid statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its kind.
    pub kind: Kind,
    /// Its tenant.
    pub tenant: String,
    /// For `rotation`: the old log.
    pub previous: Option<Previous>,
}

/// Deserializes a member that, when present, must not be `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(
            "a member is `null`; an absent optional member is omitted, never `null`",
        )),
    }
}

/// A JSON string, borrowed from the entry bytes when it has no escapes, so
/// that validating millions of entries does not allocate for every member.
struct Str<'a>(Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Str<'a>, D::Error> {
        struct StrVisitor;
        impl<'de> serde::de::Visitor<'de> for StrVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(StrVisitor).map(Str)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct Raw<'a> {
    #[serde(default, deserialize_with = "present")]
    v: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    kind: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    decision_id: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    request_digest: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    args_digest: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    outcome: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    reasons: Option<Vec<RawReason<'a>>>,
    #[serde(default, deserialize_with = "present")]
    policy: Option<RawPolicy<'a>>,
    #[serde(default, deserialize_with = "present")]
    agent: Option<RawAgent<'a>>,
    #[serde(default, deserialize_with = "present")]
    principal: Option<RawPrincipal<'a>>,
    #[serde(default, deserialize_with = "present")]
    tenant: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    session: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    tool: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    intervention: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    mode: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    approval: Option<RawApprovalRef<'a>>,
    #[serde(default, deserialize_with = "present")]
    time: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    approval_id: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    approver: Option<RawPrincipal<'a>>,
    #[serde(default, deserialize_with = "present")]
    verdict: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    result_digest: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Str<'a>>,
    #[serde(default, deserialize_with = "present")]
    duration_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    previous: Option<RawPrevious<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawReason<'a> {
    code: Str<'a>,
    #[serde(default, deserialize_with = "present")]
    rule: Option<Str<'a>>,
    message: Str<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawPolicy<'a> {
    name: Str<'a>,
    version: Str<'a>,
    digest: Str<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawAgent<'a> {
    id: Str<'a>,
    version: Str<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawPrincipal<'a> {
    id: Str<'a>,
    kind: Str<'a>,
    roles: Vec<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawApprovalRef<'a> {
    id: Str<'a>,
    #[serde(rename = "ref")]
    reference: Str<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
struct RawPrevious<'a> {
    origin: Str<'a>,
    size: u64,
    root: Str<'a>,
    key: Str<'a>,
}

/// Why an entry is not a valid statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementError {
    /// Not JSON at all (or not an object).
    NotJson(String),
    /// JSON, but not a v1 statement.
    Invalid(String),
}

const COMMON: &[&str] = &["v", "kind", "tenant", "time"];
const DECISION_REQUIRED: &[&str] = &[
    "decision_id",
    "request_digest",
    "args_digest",
    "outcome",
    "reasons",
    "agent",
    "principal",
    "session",
    "intervention",
    "mode",
];
const DECISION_OPTIONAL: &[&str] = &["policy", "tool", "approval"];
const APPROVAL_REQUIRED: &[&str] = &[
    "approval_id",
    "decision_id",
    "request_digest",
    "approver",
    "verdict",
];
const EXECUTION_REQUIRED: &[&str] = &[
    "decision_id",
    "session",
    "tool",
    "result_digest",
    "status",
    "duration_ms",
];
const ROTATION_REQUIRED: &[&str] = &["previous"];

const OUTCOMES: &[&str] = &[
    "allow",
    "deny",
    "require_approval",
    "allow_with_constraints",
    "remediate",
];
const REASON_CODES: &[&str] = &[
    "rule",
    "default_deny",
    "unknown_tool",
    "unknown_agent",
    "schema_violation",
    "untrusted_flow",
    "scan_finding",
    "kill_switch",
    "circuit_open",
    "rate_limited",
    "budget_exceeded",
    "approval_pending",
    "approval_expired",
    "approval_mismatch",
    "approval_policy_changed",
    "approval_rejected",
    "approval_used",
    "idempotent_replay",
    "policy_unavailable",
    "timeout",
    "internal_error",
    "break_glass",
    "shadow",
];
const INTERVENTIONS: &[&str] = &[
    "input",
    "list_tools",
    "pre_tool_call",
    "post_tool_call",
    "output",
];
const MODES: &[&str] = &["enforce", "shadow", "override"];
const PRINCIPAL_KINDS: &[&str] = &["user", "service"];

/// Parses and validates one entry.
pub fn parse_statement(entry: &[u8]) -> Result<Statement, StatementError> {
    // One UTF-8 check of the whole entry is cheaper than serde_json's check
    // of every string in it.
    let text = std::str::from_utf8(entry)
        .map_err(|e| StatementError::NotJson(format!("not UTF-8: {e}")))?;
    let raw: Raw = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            StatementError::Invalid(e.to_string())
        } else {
            StatementError::NotJson(e.to_string())
        }
    })?;
    validate(raw).map_err(StatementError::Invalid)
}

fn one_of(member: impl std::fmt::Display, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{member}` is `{value}`, not one of {}",
            allowed.join(", ")
        ))
    }
}

fn non_empty(member: impl std::fmt::Display, value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("`{member}` is empty"))
    } else {
        Ok(())
    }
}

fn digest(member: &str, value: &str) -> Result<(), String> {
    let ok = value.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{member}` is `{value}`, not `sha256:` and 64 lowercase hex digits"
        ))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, with plausible field ranges.
fn time(value: &str) -> Result<(), String> {
    let b = value.as_bytes();
    let shape_ok = b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    let field = |from: usize, to: usize| -> u32 {
        value
            .get(from..to)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX)
    };
    let ranges_ok = shape_ok
        && (1..=12).contains(&field(5, 7))
        && (1..=31).contains(&field(8, 10))
        && field(11, 13) <= 23
        && field(14, 16) <= 59
        && field(17, 19) <= 60;
    if ranges_ok {
        Ok(())
    } else {
        Err(format!(
            "`time` is `{value}`, not UTC with milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`"
        ))
    }
}

fn principal(member: &str, p: &RawPrincipal) -> Result<(), String> {
    non_empty(format_args!("{member}.id"), &p.id)?;
    for (i, role) in p.roles.iter().enumerate() {
        non_empty(format_args!("{member}.roles[{i}]"), role)?;
    }
    one_of(format_args!("{member}.kind"), &p.kind, PRINCIPAL_KINDS)
}

fn validate(raw: Raw) -> Result<Statement, String> {
    let present: [(&str, bool); 24] = [
        ("v", raw.v.is_some()),
        ("kind", raw.kind.is_some()),
        ("decision_id", raw.decision_id.is_some()),
        ("request_digest", raw.request_digest.is_some()),
        ("args_digest", raw.args_digest.is_some()),
        ("outcome", raw.outcome.is_some()),
        ("reasons", raw.reasons.is_some()),
        ("policy", raw.policy.is_some()),
        ("agent", raw.agent.is_some()),
        ("principal", raw.principal.is_some()),
        ("tenant", raw.tenant.is_some()),
        ("session", raw.session.is_some()),
        ("tool", raw.tool.is_some()),
        ("intervention", raw.intervention.is_some()),
        ("mode", raw.mode.is_some()),
        ("approval", raw.approval.is_some()),
        ("time", raw.time.is_some()),
        ("approval_id", raw.approval_id.is_some()),
        ("approver", raw.approver.is_some()),
        ("verdict", raw.verdict.is_some()),
        ("result_digest", raw.result_digest.is_some()),
        ("status", raw.status.is_some()),
        ("duration_ms", raw.duration_ms.is_some()),
        ("previous", raw.previous.is_some()),
    ];
    match raw.v {
        Some(1) => {}
        Some(v) => {
            return Err(format!(
                "`v` is {v}, but this verifier knows only version 1"
            ))
        }
        None => return Err("missing member `v`".to_owned()),
    }
    let kind = match raw.kind.as_deref() {
        Some("decision") => Kind::Decision,
        Some("approval") => Kind::Approval,
        Some("execution") => Kind::Execution,
        Some("rotation") => Kind::Rotation,
        Some(other) => {
            return Err(format!(
                "`kind` is `{other}`, not one of decision, approval, execution, rotation"
            ))
        }
        None => return Err("missing member `kind`".to_owned()),
    };
    let (required, optional): (&[&str], &[&str]) = match kind {
        Kind::Decision => (DECISION_REQUIRED, DECISION_OPTIONAL),
        Kind::Approval => (APPROVAL_REQUIRED, &[]),
        Kind::Execution => (EXECUTION_REQUIRED, &[]),
        Kind::Rotation => (ROTATION_REQUIRED, &[]),
    };
    for (name, is_present) in present {
        let needed = COMMON.contains(&name) || required.contains(&name);
        if needed && !is_present {
            return Err(format!(
                "missing member `{name}` in a `{}` statement",
                kind.as_str()
            ));
        }
        if is_present && !needed && !optional.contains(&name) {
            return Err(format!(
                "member `{name}` is not allowed in a `{}` statement",
                kind.as_str()
            ));
        }
    }
    let tenant = raw.tenant.as_deref().unwrap_or_default();
    if !is_valid_tenant(tenant) {
        return Err(format!(
            "`tenant` is `{tenant}`, not 1 to 128 of `A-Z a-z 0-9 . _ -`"
        ));
    }
    time(raw.time.as_deref().unwrap_or_default())?;
    for (name, value) in [
        ("decision_id", &raw.decision_id),
        ("session", &raw.session),
        ("tool", &raw.tool),
        ("approval_id", &raw.approval_id),
    ] {
        if let Some(value) = value {
            non_empty(name, value)?;
        }
    }
    for (name, value) in [
        ("request_digest", &raw.request_digest),
        ("args_digest", &raw.args_digest),
        ("result_digest", &raw.result_digest),
    ] {
        if let Some(value) = value {
            digest(name, value)?;
        }
    }
    if let Some(outcome) = &raw.outcome {
        one_of("outcome", outcome, OUTCOMES)?;
    }
    for (i, reason) in raw.reasons.iter().flatten().enumerate() {
        one_of(
            format_args!("reasons[{i}].code"),
            &reason.code,
            REASON_CODES,
        )?;
        if let Some(rule) = &reason.rule {
            non_empty(format_args!("reasons[{i}].rule"), rule)?;
        }
        let _ = &reason.message;
    }
    if let Some(policy) = &raw.policy {
        non_empty("policy.name", &policy.name)?;
        non_empty("policy.version", &policy.version)?;
        digest("policy.digest", &policy.digest)?;
    }
    if let Some(agent) = &raw.agent {
        non_empty("agent.id", &agent.id)?;
        non_empty("agent.version", &agent.version)?;
    }
    if let Some(p) = &raw.principal {
        principal("principal", p)?;
    }
    if let Some(p) = &raw.approver {
        principal("approver", p)?;
    }
    if let Some(intervention) = &raw.intervention {
        one_of("intervention", intervention, INTERVENTIONS)?;
    }
    if let Some(mode) = &raw.mode {
        one_of("mode", mode, MODES)?;
    }
    if let Some(approval) = &raw.approval {
        non_empty("approval.id", &approval.id)?;
        one_of(
            "approval.ref",
            &approval.reference,
            &["requested", "presented"],
        )?;
    }
    if let Some(verdict) = &raw.verdict {
        one_of("verdict", verdict, &["granted", "rejected"])?;
    }
    if let Some(status) = &raw.status {
        one_of("status", status, &["ok", "error"])?;
    }
    if raw.duration_ms.is_some_and(|d| d > MAX_SAFE_INTEGER) {
        return Err("`duration_ms` is larger than 2^53 - 1".to_owned());
    }
    let previous = match raw.previous {
        Some(p) => Some(validate_previous(p)?),
        None => None,
    };
    Ok(Statement {
        kind,
        tenant: tenant.to_owned(),
        previous,
    })
}

fn validate_previous(p: RawPrevious) -> Result<Previous, String> {
    non_empty("previous.origin", &p.origin)?;
    if p.size > MAX_SAFE_INTEGER {
        return Err("`previous.size` is larger than 2^53 - 1".to_owned());
    }
    let root = parse_hash(&p.root)
        .ok_or_else(|| format!("`previous.root` `{}` is not base64 of 32 bytes", &*p.root))?;
    let key = VerifierKey::parse(&p.key).map_err(|e| format!("`previous.key`: {e}"))?;
    Ok(Previous {
        origin: p.origin.to_string(),
        size: p.size,
        root,
        key,
    })
}

#[cfg(test)]
#[path = "statement_tests.rs"]
pub(crate) mod tests;
