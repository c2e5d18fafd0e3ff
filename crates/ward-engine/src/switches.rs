//! Kill switches and shadow scopes, and break-glass overrides.
//!
//! A switch applies to a scope: everything, a tenant, an agent, a tool
//! capability or a tool. Switches are persisted in the state store and every
//! node reloads them at its refresh interval.

use serde::{Deserialize, Serialize};

/// What a switch covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "value", rename_all = "snake_case")]
pub enum Scope {
    /// Every call.
    Global,
    /// One tenant.
    Tenant(String),
    /// One agent id (all versions).
    Agent(String),
    /// Every tool of a capability, such as `payment`.
    Capability(String),
    /// One tool.
    Tool(String),
}

impl Scope {
    /// Whether the scope covers a call.
    pub fn covers(
        &self,
        tenant: &str,
        agent: &str,
        tool: Option<&str>,
        capability: Option<&str>,
    ) -> bool {
        match self {
            Scope::Global => true,
            Scope::Tenant(t) => t == tenant,
            Scope::Agent(a) => a == agent,
            Scope::Capability(c) => capability == Some(c.as_str()),
            Scope::Tool(t) => tool == Some(t.as_str()),
        }
    }

    /// `global`, `tenant:acme`, `tool:send_email`, ...
    pub fn label(&self) -> String {
        match self {
            Scope::Global => "global".into(),
            Scope::Tenant(v) => format!("tenant:{v}"),
            Scope::Agent(v) => format!("agent:{v}"),
            Scope::Capability(v) => format!("capability:{v}"),
            Scope::Tool(v) => format!("tool:{v}"),
        }
    }

    /// Parses a label made by [`Scope::label`].
    pub fn parse(label: &str) -> Result<Scope, String> {
        if label == "global" {
            return Ok(Scope::Global);
        }
        let (kind, value) = label
            .split_once(':')
            .filter(|(_, v)| !v.is_empty())
            .ok_or_else(|| format!("scope `{label}` is not `global` or `KIND:VALUE`"))?;
        let value = value.to_owned();
        Ok(match kind {
            "tenant" => Scope::Tenant(value),
            "agent" => Scope::Agent(value),
            "capability" => Scope::Capability(value),
            "tool" => Scope::Tool(value),
            _ => {
                return Err(format!(
                    "scope kind `{kind}` is not one of tenant, agent, capability, tool"
                ))
            }
        })
    }
}

/// Kill or shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchKind {
    /// Deny every call in scope.
    Kill,
    /// Evaluate and record, then allow.
    Shadow,
}

impl SwitchKind {
    /// `kill` or `shadow`.
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchKind::Kill => "kill",
            SwitchKind::Shadow => "shadow",
        }
    }
}

/// A persisted switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// Kill or shadow.
    pub kind: SwitchKind,
    /// What it covers.
    #[serde(flatten)]
    pub scope: Scope,
    /// Why it was set.
    pub reason: String,
    /// Who set it.
    pub by: String,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

/// A break-glass override: a named operator lets calls in scope through
/// until it expires. Every such decision is recorded with mode `override`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlass {
    /// Its id.
    pub id: String,
    /// What it covers.
    #[serde(flatten)]
    pub scope: Scope,
    /// The operator who opened it.
    pub operator: String,
    /// Why.
    pub reason: String,
    /// Opened, Unix milliseconds.
    pub at_ms: i64,
    /// Expires, Unix milliseconds.
    pub expires_ms: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn labels_round_trip() {
        for s in [
            Scope::Global,
            Scope::Tenant("acme".into()),
            Scope::Agent("bot".into()),
            Scope::Capability("payment".into()),
            Scope::Tool("send_email".into()),
        ] {
            assert_eq!(Scope::parse(&s.label()).unwrap(), s);
        }
        assert!(Scope::parse("tool:").is_err());
        assert!(Scope::parse("planet:mars").is_err());
        assert!(Scope::parse("acme").is_err());
    }

    #[test]
    fn coverage() {
        let call = ("acme", "bot", Some("send_email"), Some("write"));
        let covers = |s: Scope| s.covers(call.0, call.1, call.2, call.3);
        assert!(covers(Scope::Global));
        assert!(covers(Scope::Tenant("acme".into())));
        assert!(!covers(Scope::Tenant("globex".into())));
        assert!(covers(Scope::Capability("write".into())));
        assert!(!covers(Scope::Tool("approve_refund".into())));
        assert!(!Scope::Tool("x".into()).covers("acme", "bot", None, None));
    }
}
