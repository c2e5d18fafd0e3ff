//! The gateway's config file: the familiar `mcpServers` map of upstream
//! servers, and a `ward` section for the gate itself.
//!
//! Every object rejects unknown keys, so a typo is an error at start and
//! never a silently ignored setting. `${NAME}` in an upstream's `command`,
//! `args`, `env`, `url` and `headers` is replaced by the gateway's own
//! environment variable `NAME` (a missing one is an error): upstream
//! credentials belong to the gateway and never come from the client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a config file was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The config file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "mcpServers")]
    servers: BTreeMap<String, UpstreamSpec>,
    #[serde(default)]
    ward: WardSection,
}

/// One upstream MCP server: a stdio child process (`command`) or a
/// Streamable HTTP endpoint (`url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// `stdio`, `http` or `streamable-http`; inferred from `command` or `url`
    /// when absent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The program of a stdio server.
    #[serde(default)]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables set for it. The child gets only these and a
    /// few of the gateway's own (`PATH`, `HOME`, `USER`, `LANG`, `TMPDIR`,
    /// ...), never the gateway's credentials.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// The endpoint of a Streamable HTTP server.
    #[serde(default)]
    pub url: Option<String>,
    /// Headers sent to it, such as the gateway's own `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The privilege ring a stdio server runs in (0 to 3; see docs/mcp.md).
    #[serde(default)]
    pub ring: Option<u8>,
    /// The one directory the ring lets it write: its own directory in ring
    /// 1, its scratch directory in ring 3.
    #[serde(default)]
    pub ring_dir: Option<PathBuf>,
    /// How long one `tools/call` may take, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The prefix of this server's tool names (default: its name), used
    /// when names clash or `ward.prefix` is `always`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The constraints this server honours when it finds them in a call's
    /// `_meta` (`read_only`, `max_rows`); `timeout_ms` is always enforced by
    /// the gateway itself.
    #[serde(default)]
    pub honours: Vec<String>,
    /// Skip this server.
    #[serde(default)]
    pub disabled: bool,
}

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP over its stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its environment (besides `PATH` and `HOME`).
        env: BTreeMap<String, String>,
        /// Its working directory.
        cwd: Option<PathBuf>,
        /// Its privilege ring.
        ring: u8,
        /// The directory its ring lets it write (rings 1 and 3).
        ring_dir: Option<PathBuf>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// The URL.
        url: String,
        /// Headers sent with every request.
        headers: BTreeMap<String, String>,
    },
}

/// One upstream, resolved.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its name in `mcpServers`.
    pub name: String,
    /// How it is reached.
    pub transport: Transport,
    /// The per-call time limit.
    pub timeout: Duration,
    /// The prefix of its tool names when they are prefixed.
    pub prefix: String,
    /// The constraints it honours.
    pub honours: Vec<String>,
}

/// Who the stdio client is: the client never says, the config does.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    /// An API key of the gate, in this environment variable.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// An API key of the gate, in this file (relative to the config file).
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Or a principal for which the gateway makes (on first start) and
    /// keeps its own key in the data directory.
    #[serde(default)]
    pub principal: Option<String>,
    /// `user` or `service` (default `user`).
    #[serde(default)]
    pub kind: Option<ward_core::PrincipalKind>,
    /// The principal's tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The principal's roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The agent the gateway acts as.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// The registered agent id (an agent-bound key's agent wins over it).
    pub id: String,
    /// The registered version.
    pub version: String,
    /// Register this version at start, as the operator (optional).
    #[serde(default)]
    pub register: Option<serde_json::Value>,
}

/// The Streamable HTTP side.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Where to listen (`ward mcp --listen` overrides it).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The MCP endpoint's path (default `/mcp`).
    #[serde(default)]
    pub path: Option<String>,
    /// `Host` values accepted (DNS-rebinding protection; default loopback).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Open sessions at most (default 1,000).
    #[serde(default)]
    pub max_sessions: Option<usize>,
}

/// What a denied call becomes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DenyAs {
    /// A tool result with `isError: true` (the model reads the reason).
    #[default]
    Result,
    /// A JSON-RPC error.
    Error,
}

/// When tool names get their server's prefix.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrefixMode {
    /// Only the names that two servers share.
    #[default]
    Clash,
    /// Every name.
    Always,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WardSection {
    #[serde(default)]
    data: Option<PathBuf>,
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    bundle: Option<PathBuf>,
    #[serde(default)]
    identity: Option<IdentitySpec>,
    #[serde(default)]
    agent: Option<AgentSpec>,
    #[serde(default)]
    http: Option<HttpSpec>,
    #[serde(default)]
    api_listen: Option<SocketAddr>,
    #[serde(default)]
    deny_as: DenyAs,
    #[serde(default)]
    approval_wait_ms: Option<u64>,
    #[serde(default)]
    page_size: Option<usize>,
    #[serde(default)]
    prefix: PrefixMode,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    call_timeout_ms: Option<u64>,
    #[serde(default)]
    connect_timeout_ms: Option<u64>,
    #[serde(default)]
    max_message_bytes: Option<usize>,
    #[serde(default)]
    default_ring: Option<u8>,
}

/// The gateway's settings, resolved from the file.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The upstreams, in name order (disabled ones left out).
    pub upstreams: Vec<Upstream>,
    /// The data directory of the gateway's gate node.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL for shared state and audit.
    pub store: Option<String>,
    /// The bundle to activate at start.
    pub bundle: Option<PathBuf>,
    /// The stdio client's identity.
    pub identity: Option<IdentitySpec>,
    /// The agent the gateway acts as.
    pub agent: AgentSpec,
    /// The Streamable HTTP side.
    pub http: HttpSpec,
    /// Where to serve the gate's operator API (approvals, registry, keys).
    pub api_listen: Option<SocketAddr>,
    /// What a denied call becomes.
    pub deny_as: DenyAs,
    /// How long a call that needs approval waits for it before answering
    /// that it is pending (zero: answer at once).
    pub approval_wait: Duration,
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// When names are prefixed.
    pub prefix: PrefixMode,
    /// Between a prefix and a name (default `__`).
    pub separator: String,
    /// How long connecting to an upstream may take.
    pub connect_timeout: Duration,
    /// The largest JSON-RPC message accepted from the client, in bytes.
    pub max_message_bytes: usize,
}

/// The default per-call limit.
const DEFAULT_CALL_TIMEOUT_MS: u64 = 60_000;

impl GatewayConfig {
    /// Reads and checks a config file. Relative paths in it are relative to
    /// the file's directory.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read `{}`: {e}", path.display())))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        GatewayConfig::parse(&text, base, &|name| std::env::var(name).ok())
            .map_err(|e| ConfigError(format!("`{}`: {e}", path.display())))
    }

    /// Parses a config text; `env` looks up `${NAME}` substitutions.
    pub fn parse(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GatewayConfig, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: File = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ConfigError(format!("at `{path}`: {}", e.into_inner()))
        })?;
        let w = file.ward;
        let call_timeout = w.call_timeout_ms.unwrap_or(DEFAULT_CALL_TIMEOUT_MS);
        let default_ring = w.default_ring.unwrap_or(0);
        let mut upstreams = Vec::new();
        for (name, spec) in file.servers {
            if spec.disabled {
                continue;
            }
            upstreams.push(resolve(&name, spec, call_timeout, default_ring, base, env)?);
        }
        let agent = w.agent.ok_or_else(|| {
            ConfigError(
                "`ward.agent` is required: the registered agent id and version the gateway acts as"
                    .into(),
            )
        })?;
        let separator = w.separator.unwrap_or_else(|| "__".into());
        if separator.is_empty() || !separator.chars().all(tool_name_char) {
            return Err(ConfigError(format!(
                "`ward.separator` `{separator}` must be characters allowed in tool names"
            )));
        }
        let mut http = w.http.unwrap_or(HttpSpec {
            listen: None,
            path: None,
            allowed_hosts: Vec::new(),
            max_sessions: None,
        });
        if let Some(p) = &http.path {
            if !p.starts_with('/') {
                return Err(ConfigError(format!(
                    "`ward.http.path` `{p}` must start with `/`"
                )));
            }
        }
        http.path.get_or_insert_with(|| "/mcp".into());
        let page_size = w.page_size.unwrap_or(100);
        if page_size == 0 {
            return Err(ConfigError("`ward.page_size` must be at least 1".into()));
        }
        let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let identity = w.identity.map(|mut i| {
            i.api_key_file = i.api_key_file.map(abs);
            i
        });
        Ok(GatewayConfig {
            upstreams,
            data_dir: abs(w.data.unwrap_or_else(|| "ward-mcp-data".into())),
            store: w.store,
            bundle: w.bundle.map(abs),
            identity,
            agent,
            http,
            api_listen: w.api_listen,
            deny_as: w.deny_as,
            approval_wait: Duration::from_millis(w.approval_wait_ms.unwrap_or(0)),
            page_size,
            prefix: w.prefix,
            separator,
            connect_timeout: Duration::from_millis(w.connect_timeout_ms.unwrap_or(30_000).max(1)),
            max_message_bytes: w.max_message_bytes.unwrap_or(4 << 20).max(1024),
        })
    }
}

/// Characters MCP allows in a tool name (2025-11-25: `A-Za-z0-9_-.`).
pub(crate) fn tool_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

const CONSTRAINTS: [&str; 3] = ["read_only", "max_rows", "timeout_ms"];

fn resolve(
    name: &str,
    spec: UpstreamSpec,
    call_timeout: u64,
    default_ring: u8,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Upstream, ConfigError> {
    let at = |field: &str, e: String| ConfigError(format!("`mcpServers.{name}.{field}`: {e}"));
    if name.is_empty() || !name.chars().all(tool_name_char) {
        return Err(ConfigError(format!(
            "server name `{name}` must be letters, digits, `_`, `-` or `.`"
        )));
    }
    let expand_all = |field: &str, v: &[String]| -> Result<Vec<String>, ConfigError> {
        v.iter()
            .map(|s| expand(s, env).map_err(|e| at(field, e)))
            .collect()
    };
    let expand_map = |field: &str,
                      m: &BTreeMap<String, String>|
     -> Result<BTreeMap<String, String>, ConfigError> {
        m.iter()
            .map(|(k, v)| Ok((k.clone(), expand(v, env).map_err(|e| at(field, e))?)))
            .collect()
    };
    let kind = spec.kind.as_deref().map(str::to_ascii_lowercase);
    let transport = match (kind.as_deref(), &spec.command, &spec.url) {
        (None | Some("stdio"), Some(command), None) => {
            let ring = spec.ring.unwrap_or(default_ring);
            if ring > 3 {
                return Err(at("ring", format!("{ring} is not a ring: 0 to 3")));
            }
            Transport::Stdio {
                command: expand(command, env).map_err(|e| at("command", e))?,
                args: expand_all("args", &spec.args)?,
                env: expand_map("env", &spec.env)?,
                cwd: spec
                    .cwd
                    .map(|c| if c.is_absolute() { c } else { base.join(c) }),
                ring,
                ring_dir: spec
                    .ring_dir
                    .map(|c| if c.is_absolute() { c } else { base.join(c) }),
            }
        }
        (None | Some("http" | "streamable-http" | "streamablehttp"), None, Some(url)) => {
            if spec.ring.is_some() {
                return Err(at("ring", "only stdio servers run in a ring".into()));
            }
            let url = expand(url, env).map_err(|e| at("url", e))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(at(
                    "url",
                    format!("`{url}` is not an http:// or https:// URL"),
                ));
            }
            Transport::Http {
                url,
                headers: expand_map("headers", &spec.headers)?,
            }
        }
        (Some("sse"), _, _) => {
            return Err(at(
                "type",
                "the HTTP+SSE transport of 2024-11-05 is not supported; use Streamable HTTP".into(),
            ))
        }
        (_, Some(_), Some(_)) => return Err(at("url", "give `command` or `url`, not both".into())),
        (_, None, None) => {
            return Err(at(
                "command",
                "give `command` (stdio) or `url` (HTTP)".into(),
            ))
        }
        (Some(other), _, _) => {
            return Err(at(
                "type",
                format!("`{other}` does not match the server's `command` or `url`"),
            ))
        }
    };
    for c in &spec.honours {
        if !CONSTRAINTS.contains(&c.as_str()) {
            return Err(at(
                "honours",
                format!("`{c}` is not a constraint: read_only, max_rows, timeout_ms"),
            ));
        }
    }
    let prefix = spec.prefix.unwrap_or_else(|| name.to_owned());
    if prefix.is_empty() || !prefix.chars().all(tool_name_char) {
        return Err(at(
            "prefix",
            format!("`{prefix}` is not usable in tool names"),
        ));
    }
    Ok(Upstream {
        name: name.to_owned(),
        transport,
        timeout: Duration::from_millis(spec.timeout_ms.unwrap_or(call_timeout).max(1)),
        prefix,
        honours: spec.honours,
    })
}

/// Replaces `${NAME}` with the variable's value; `$$` is a literal `$`.
fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
            let name = r.get(..end).unwrap_or_default();
            let value =
                env(name).ok_or_else(|| format!("environment variable `{name}` is not set"))?;
            out.push_str(&value);
            rest = r.get(end + 1..).unwrap_or_default();
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_owned())
    }

    fn parse(text: &str) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::parse(text, Path::new("/etc/ward"), &env)
    }

    const AGENT: &str = r#""agent": {"id": "desk", "version": "1.0.0"}"#;

    #[test]
    fn reads_the_familiar_shape() {
        let c = parse(&format!(
            r#"{{"mcpServers": {{
                "fs": {{"command": "npx", "args": ["-y", "server-filesystem", "/data"], "ring": 1}},
                "remote": {{"url": "https://mcp.example/mcp", "headers": {{"Authorization": "Bearer ${{TOKEN}}"}}}},
                "off": {{"command": "x", "disabled": true}}
            }}, "ward": {{{AGENT}, "bundle": "bundle.yaml"}}}}"#
        ))
        .unwrap();
        assert_eq!(c.upstreams.len(), 2);
        assert!(matches!(
            &c.upstreams[0].transport,
            Transport::Stdio { ring: 1, .. }
        ));
        let Transport::Http { headers, .. } = &c.upstreams[1].transport else {
            panic!("http")
        };
        assert_eq!(headers["Authorization"], "Bearer s3cret");
        assert_eq!(c.bundle.unwrap(), Path::new("/etc/ward/bundle.yaml"));
        assert_eq!(c.data_dir, Path::new("/etc/ward/ward-mcp-data"));
        assert_eq!(c.http.path.as_deref(), Some("/mcp"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        for (text, needle) in [
            (
                r#"{"mcpServers": {}, "ward": {"agnet": {}}}"#.to_owned(),
                "agnet",
            ),
            (
                r#"{"mcpServers": {"a": {"comand": "x"}}}"#.to_owned(),
                "comand",
            ),
            (
                format!(
                    r#"{{"mcpServers": {{"a": {{"command": "x", "ring": 4}}}}, "ward": {{{AGENT}}}}}"#
                ),
                "ring",
            ),
            (
                format!(r#"{{"mcpServers": {{"a": {{"url": "ftp://x"}}}}, "ward": {{{AGENT}}}}}"#),
                "ftp",
            ),
            (
                format!(
                    r#"{{"mcpServers": {{"a": {{"url": "http://x/${{NOPE}}"}}}}, "ward": {{{AGENT}}}}}"#
                ),
                "NOPE",
            ),
            (
                format!(
                    r#"{{"mcpServers": {{"a": {{"command": "x", "honours": ["all"]}}}}, "ward": {{{AGENT}}}}}"#
                ),
                "all",
            ),
            (
                format!(r#"{{"mcpServers": {{"a b": {{"command": "x"}}}}, "ward": {{{AGENT}}}}}"#),
                "a b",
            ),
            (
                format!(
                    r#"{{"mcpServers": {{"a": {{"type": "sse", "url": "http://x"}}}}, "ward": {{{AGENT}}}}}"#
                ),
                "SSE",
            ),
            (r#"{"mcpServers": {}}"#.to_owned(), "ward.agent"),
            (r#"not json"#.to_owned(), "expected"),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn expansion() {
        assert_eq!(expand("a${TOKEN}b$$c$d", &env).unwrap(), "as3cretb$c$d");
        assert!(expand("${TOKEN", &env).is_err());
    }
}
