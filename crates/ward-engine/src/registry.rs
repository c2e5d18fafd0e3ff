//! The agent registry: which agent versions may act, and with which tools.

use serde::{Deserialize, Serialize};

/// The model behind an agent version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Provider, such as `anthropic` or `openai`.
    pub provider: String,
    /// Model id, such as `claude-sonnet-4-5`.
    pub id: String,
    /// Model version or snapshot date.
    #[serde(default)]
    pub version: String,
}

/// One registered agent version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRecord {
    /// Agent id.
    pub id: String,
    /// Agent version.
    pub version: String,
    /// The model it runs on.
    pub model: ModelInfo,
    /// SHA-256 of its prompt template, `sha256:<hex>`.
    pub prompt_digest: String,
    /// Tools it may call (catalog names or globs such as `lookup_*`); empty
    /// means every tool of the bundle.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Who answers for it.
    pub owner: String,
    /// `production`, `staging`, ...
    pub environment: String,
    /// Only active versions may act.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl AgentRecord {
    /// Checks the fields a registration must carry.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("id", &self.id),
            ("version", &self.version),
            ("model.provider", &self.model.provider),
            ("model.id", &self.model.id),
            ("owner", &self.owner),
            ("environment", &self.environment),
        ] {
            if value.trim().is_empty() {
                return Err(format!("`{name}` must not be empty"));
            }
        }
        let hex = self.prompt_digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("`prompt_digest` must be `sha256:` and 64 hex digits".into());
        }
        Ok(())
    }

    /// Whether this version may call `tool`.
    pub fn allows_tool(&self, tool: &str) -> bool {
        self.tools.is_empty() || self.tools.iter().any(|p| glob_match(p, tool))
    }
}

/// `*` matches any run of characters; everything else is literal.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("lookup_*", "lookup_order"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(!glob_match("a*c*e", "abcd"));
        assert!(glob_match("send_email", "send_email"));
        assert!(!glob_match("send_email", "send_emails"));
        assert!(!glob_match("*_order", "order"));
    }
}
