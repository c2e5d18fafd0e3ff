//! The request: one intent of an agent, as it crosses the gate.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where in the agent's loop the request was raised.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Intervention {
    /// Content entering the model's context: a user prompt, a retrieved document.
    Input,
    /// The agent is about to be shown its tool list.
    ListTools,
    /// The agent wants to call a tool. `tool` and `args` are set.
    PreToolCall,
    /// A tool returned. `content` and `source` are set.
    PostToolCall,
    /// The agent's answer to its user.
    Output,
}

impl Intervention {
    /// Every intervention, in declaration order.
    pub const ALL: [Intervention; 5] = [
        Intervention::Input,
        Intervention::ListTools,
        Intervention::PreToolCall,
        Intervention::PostToolCall,
        Intervention::Output,
    ];

    /// Whether this is content entering or leaving the agent's context
    /// (`input`, `post_tool_call`, `output`) rather than an intent to act.
    pub fn is_content(self) -> bool {
        matches!(
            self,
            Intervention::Input | Intervention::PostToolCall | Intervention::Output
        )
    }

    /// The wire name, as in `pre_tool_call`.
    pub fn as_str(self) -> &'static str {
        match self {
            Intervention::Input => "input",
            Intervention::ListTools => "list_tools",
            Intervention::PreToolCall => "pre_tool_call",
            Intervention::PostToolCall => "post_tool_call",
            Intervention::Output => "output",
        }
    }
}

/// The kind of principal on whose behalf the agent acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A human, authenticated by the gate (for example with a JWT).
    User,
    /// A service account, authenticated with an API key.
    Service,
}

impl PrincipalKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Service => "service",
        }
    }
}

/// The human or service principal. Fixed by authentication, never by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// Stable identifier of the principal.
    pub id: String,
    /// Whether the principal is a user or a service.
    pub kind: PrincipalKind,
    /// Roles granted by the identity provider.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Further attributes from the identity provider.
    #[serde(default)]
    pub attrs: BTreeMap<String, Value>,
}

/// The agent making the request, as registered with the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    /// Registered agent id.
    pub id: String,
    /// Registered agent version.
    pub version: String,
}

/// Who is acting: principal, tenant, session and agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The principal on whose behalf the agent acts.
    pub principal: Principal,
    /// The tenant the call belongs to.
    pub tenant: String,
    /// The agent session (conversation) the call belongs to.
    pub session: String,
    /// The agent and its version.
    pub agent: AgentRef,
}

/// A trust label for content that entered the agent's context.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The user's own input, or a field a trusted tool declares as trusted.
    Trusted,
    /// Everything else: retrieval, the web, email bodies, other tools' output.
    Untrusted,
}

/// Where a piece of content came from (for `input` and `post_tool_call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentSource {
    /// What produced the content, such as `user`, `tool`, `retrieval`, `web` or `email`.
    pub kind: String,
    /// The tool that produced it, for tool outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// A locator for the content, such as a URL or document id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The label the caller claims. The gate may only narrow it to `untrusted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<Trust>,
}

/// W3C trace context of the agent's span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
}

/// One intent of an agent, sent to the gate before it acts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Where in the agent loop this request was raised.
    pub intervention: Intervention,
    /// Who is acting.
    pub actor: Actor,
    /// The tool, for `pre_tool_call` and `post_tool_call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// A verb refining the tool call, such as `invoke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The resource acted on, such as `order:8812`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The tool arguments, as the model produced them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub args: Map<String, Value>,
    /// Facts supplied by the calling application (not by the model).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Content entering the context, for `input`, `post_tool_call` and `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where `content` came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ContentSource>,
    /// A key that makes retries of the same call return the same decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// An approval id, when retrying a call that needed approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// The agent's trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

/// Why a request body was refused. Carries the JSON path and position.
#[derive(Debug, thiserror::Error)]
pub enum RequestParseError {
    /// The bytes are not JSON, or a field has the wrong shape.
    #[error("invalid request at `{path}` (line {line}, column {column}): {message}")]
    Syntax {
        /// JSON path of the offending field, `.` for the root.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// The JSON is well formed but the request is incomplete.
    #[error("invalid request at `{path}`: {message}")]
    Invalid {
        /// JSON path of the offending field.
        path: &'static str,
        /// What was wrong.
        message: &'static str,
    },
}

impl RequestParseError {
    /// The JSON path of the field at fault.
    pub fn path(&self) -> &str {
        match self {
            RequestParseError::Syntax { path, .. } => path,
            RequestParseError::Invalid { path, .. } => path,
        }
    }
}

impl Request {
    /// Parses and checks a request body. Never panics, whatever the bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Request, RequestParseError> {
        // The common case pays for plain serde_json only; the path-tracking
        // parser runs again only to explain a failure.
        if let Ok(request) = serde_json::from_slice::<Request>(bytes) {
            request.check()?;
            return Ok(request);
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let request: Request = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            RequestParseError::Syntax {
                path,
                line: inner.line(),
                column: inner.column(),
                message: inner.to_string(),
            }
        })?;
        request.check()?;
        Ok(request)
    }

    /// Checks the cross-field rules that serde cannot express.
    pub fn check(&self) -> Result<(), RequestParseError> {
        let invalid = |path, message| Err(RequestParseError::Invalid { path, message });
        match self.intervention {
            Intervention::PreToolCall | Intervention::PostToolCall if self.tool.is_none() => {
                invalid("tool", "a tool call must name its `tool`")
            }
            Intervention::Input | Intervention::PostToolCall if self.content.is_none() => {
                invalid("content", "content events must carry `content`")
            }
            _ if self.actor.tenant.is_empty() => {
                invalid("actor.tenant", "the tenant must not be empty")
            }
            _ if self.actor.principal.id.is_empty() => {
                invalid("actor.principal.id", "the principal id must not be empty")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"intervention":"pre_tool_call","actor":{"principal":{"id":"u-1","kind":"user"},"tenant":"acme","session":"s-1","agent":{"id":"bot","version":"1.0.0"}},"tool":"lookup_order","args":{"order_id":"1"}}"#;

    #[test]
    fn parses_the_architecture_example() {
        let r = Request::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(r.intervention, Intervention::PreToolCall);
        assert_eq!(r.tool.as_deref(), Some("lookup_order"));
    }

    #[test]
    fn unknown_fields_name_their_path() {
        let bad = MINIMAL.replace(r#""kind":"user""#, r#""kind":"user","admin":true"#);
        let err = Request::from_json(bad.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "actor.principal.admin");
        assert!(err.to_string().contains("admin"), "{err}");
    }

    #[test]
    fn wrong_types_name_their_path() {
        let bad = MINIMAL.replace(r#""tenant":"acme""#, r#""tenant":7"#);
        let err = Request::from_json(bad.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "actor.tenant");
    }

    #[test]
    fn a_tool_call_without_a_tool_is_refused() {
        let bad = MINIMAL.replace(r#""tool":"lookup_order","#, "");
        let err = Request::from_json(bad.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "tool");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"{",
            b"\xff\xfe",
            b"[]",
            b"null",
            b"{\"intervention\":1}",
        ] {
            assert!(Request::from_json(bytes).is_err());
        }
    }
}
