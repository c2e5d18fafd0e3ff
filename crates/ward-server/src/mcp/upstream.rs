//! Connections to the upstream MCP servers, as an rmcp client: stdio child
//! processes and Streamable HTTP endpoints.
//!
//! A connection is made on first use and made again after it breaks (a
//! child that crashed is started anew). Every call has a time limit; past
//! it the call is cancelled upstream and reported as a timeout. The
//! gateway's credentials for an upstream (its `env` and `headers`) go to
//! that upstream only, and a child process sees none of the gateway's own
//! environment beyond a few harmless variables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::sync::{mpsc, Mutex};

use super::config::{Transport, Upstream};

/// Variables of the gateway's environment a stdio child may see.
const PASSED_ENV: [&str; 9] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "TMPDIR",
    "SYSTEMROOT",
];

/// Why an upstream could not serve.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// It could not be started or reached.
    #[error("upstream `{0}` is unavailable: {1}")]
    Unavailable(String, String),
    /// It did not answer in time.
    #[error("upstream `{0}` did not answer within {1} ms")]
    Timeout(String, u128),
    /// The connection broke during the call.
    #[error("upstream `{0}` closed the connection during the call: {1}")]
    Broken(String, String),
    /// It answered with a JSON-RPC error.
    #[error("upstream `{0}` answered with an error: {1}")]
    Refused(String, String),
}

/// What the gateway hears from an upstream besides answers.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// `notifications/tools/list_changed` from this upstream (by index).
    ToolsChanged(usize),
}

/// The client side the gateway shows an upstream: no sampling, roots or
/// elicitation (those would reach past the gate), and it forwards
/// `tools/list_changed`.
#[derive(Debug, Clone)]
struct UpstreamClient {
    index: usize,
    events: mpsc::UnboundedSender<Event>,
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("ward-mcp-gateway", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.events.send(Event::ToolsChanged(self.index));
    }
}

type Service = RunningService<RoleClient, UpstreamClient>;

/// One upstream server and its current connection.
pub(crate) struct Link {
    pub(crate) spec: Upstream,
    index: usize,
    ward_exe: Option<PathBuf>,
    connect_timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    conn: Mutex<Option<Arc<Service>>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("upstream", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn new(
        spec: Upstream,
        index: usize,
        ward_exe: Option<PathBuf>,
        connect_timeout: Duration,
        events: mpsc::UnboundedSender<Event>,
    ) -> Link {
        Link {
            spec,
            index,
            ward_exe,
            connect_timeout,
            events,
            conn: Mutex::new(None),
        }
    }

    fn unavailable(&self, why: impl std::fmt::Display) -> UpstreamError {
        UpstreamError::Unavailable(self.spec.name.clone(), why.to_string())
    }

    /// The live connection, connecting first when there is none (or the
    /// last one broke). `fresh` is true when this call connected.
    async fn service(&self) -> Result<(Arc<Service>, bool), UpstreamError> {
        let mut slot = self.conn.lock().await;
        if let Some(s) = slot.as_ref() {
            if !s.is_closed() && !s.peer().is_transport_closed() {
                return Ok((Arc::clone(s), false));
            }
        }
        *slot = None;
        let client = UpstreamClient {
            index: self.index,
            events: self.events.clone(),
        };
        let connect = async {
            match &self.spec.transport {
                Transport::Stdio { .. } => {
                    let command = stdio_command(&self.spec, self.ward_exe.as_deref())
                        .map_err(|e| self.unavailable(e))?;
                    let (child, _) = rmcp::transport::TokioChildProcess::builder(command)
                        .stderr(std::process::Stdio::inherit())
                        .spawn()
                        .map_err(|e| self.unavailable(format!("cannot start it: {e}")))?;
                    client
                        .serve(child)
                        .await
                        .map_err(|e| self.unavailable(format!("initialize failed: {e}")))
                }
                Transport::Http { url, headers } => {
                    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
                    let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                    let mut custom = HashMap::new();
                    for (name, value) in headers {
                        if name.eq_ignore_ascii_case("authorization") {
                            config.auth_header =
                                Some(value.strip_prefix("Bearer ").unwrap_or(value).to_owned());
                            continue;
                        }
                        let name = axum::http::HeaderName::try_from(name.as_str())
                            .map_err(|e| self.unavailable(format!("header `{name}`: {e}")))?;
                        let value = axum::http::HeaderValue::try_from(value.as_str())
                            .map_err(|e| self.unavailable(format!("header value: {e}")))?;
                        custom.insert(name, value);
                    }
                    config.custom_headers = custom;
                    // rmcp's default client opens a connection for every
                    // POST (it turns pooling off against a delayed-ACK stall
                    // when a response body is left unread). This one keeps
                    // the connection, and follows no redirect, so the
                    // gateway's credential for this upstream never goes to
                    // another location.
                    let http = reqwest013::Client::builder()
                        .redirect(reqwest013::redirect::Policy::none())
                        .tcp_nodelay(true)
                        .build()
                        .map_err(|e| self.unavailable(format!("HTTP client: {e}")))?;
                    let transport =
                        rmcp::transport::StreamableHttpClientTransport::with_client(http, config);
                    client
                        .serve(transport)
                        .await
                        .map_err(|e| self.unavailable(format!("initialize failed: {e}")))
                }
            }
        };
        let service = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                self.unavailable(format!(
                    "no answer to initialize within {} ms",
                    self.connect_timeout.as_millis()
                ))
            })??;
        let service = Arc::new(service);
        *slot = Some(Arc::clone(&service));
        Ok((service, true))
    }

    /// Every tool the upstream lists (all pages). `fresh` is true when this
    /// call had to connect.
    pub(crate) async fn list_tools(&self) -> Result<(Vec<Tool>, bool), UpstreamError> {
        let (service, fresh) = self.service().await?;
        let listed = tokio::time::timeout(self.spec.timeout, service.peer().list_all_tools()).await;
        match listed {
            Ok(Ok(tools)) => Ok((tools, fresh)),
            Ok(Err(e)) => {
                self.forget(&service).await;
                Err(self.unavailable(format!("tools/list failed: {e}")))
            }
            Err(_) => Err(UpstreamError::Timeout(
                self.spec.name.clone(),
                self.spec.timeout.as_millis(),
            )),
        }
    }

    /// Whether the connection is up now (without connecting).
    pub(crate) async fn connected(&self) -> bool {
        self.conn
            .lock()
            .await
            .as_ref()
            .is_some_and(|s| !s.is_closed() && !s.peer().is_transport_closed())
    }

    /// Calls a tool within `limit`. On a timeout the request is cancelled
    /// upstream (rmcp sends `notifications/cancelled` when the request is
    /// dropped).
    pub(crate) async fn call(
        &self,
        params: CallToolRequestParams,
        limit: Duration,
    ) -> Result<CallToolResult, UpstreamError> {
        // Never connects: a new connection is listed and checked against the
        // pins first (the gateway's refresh), so a restarted server cannot
        // slip in a changed tool.
        let service = self
            .conn
            .lock()
            .await
            .as_ref()
            .filter(|s| !s.is_closed() && !s.peer().is_transport_closed())
            .cloned()
            .ok_or_else(|| self.unavailable("not connected"))?;
        let name = self.spec.name.clone();
        match tokio::time::timeout(limit, service.peer().call_tool(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(rmcp::ServiceError::McpError(e))) => Err(UpstreamError::Refused(
                name,
                format!("{} ({})", e.message, e.code.0),
            )),
            Ok(Err(e)) => {
                self.forget(&service).await;
                Err(UpstreamError::Broken(name, e.to_string()))
            }
            Err(_) => Err(UpstreamError::Timeout(name, limit.as_millis())),
        }
    }

    /// Drops a connection that broke, so the next use connects again.
    async fn forget(&self, broken: &Arc<Service>) {
        let mut slot = self.conn.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, broken)) {
            *slot = None;
        }
    }

    /// Closes the connection (a child process is asked to exit, then killed).
    pub(crate) async fn shutdown(&self) {
        let taken = self.conn.lock().await.take();
        if let Some(service) = taken {
            service.cancellation_token().cancel();
        }
    }
}

/// The command that starts a stdio upstream, in its ring.
///
/// SANDBOX INTEGRATION POINT: rings 1 to 3 run the server through `ward
/// sandbox-exec` (crate `ward-sandbox`), which confines itself and then
/// executes the server; ring 0 runs it as it is.
fn stdio_command(
    spec: &Upstream,
    ward_exe: Option<&std::path::Path>,
) -> Result<tokio::process::Command, String> {
    let Transport::Stdio {
        command,
        args,
        env,
        cwd,
        ring,
        ring_dir,
    } = &spec.transport
    else {
        return Err("not a stdio server".into());
    };
    let mut cmd = super::sandbox::command(ward_exe, *ring, ring_dir.as_deref(), command, args)?;
    cmd.env_clear();
    for name in PASSED_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(env);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.kill_on_drop(true);
    Ok(cmd)
}
