//! The MCP gateway (`ward mcp`): governance with no change to the agent.
//!
//! The gateway is one MCP server to its client, over stdio or Streamable
//! HTTP, and an MCP client of the upstream servers its config declares
//! (stdio child processes and Streamable HTTP endpoints, in the familiar
//! `mcpServers` shape). It speaks the revisions [`SUPPORTED_PROTOCOL_VERSIONS`]
//! names, to its clients and to its upstreams, with `initialize` and (over
//! HTTP) `Mcp-Session-Id`.
//!
//! Every call passes the same engine as the HTTP gate:
//!
//! - `tools/list` shows an identity only the tools the policy could permit
//!   it (one `list_tools` decision per page, then the catalog, the agent's
//!   registered tools and the rules), pages the list, and tells clients
//!   when it changes (`notifications/tools/list_changed`).
//! - `tools/call` is a `pre_tool_call` decision with a durable receipt
//!   before anything is forwarded; its result is a `post_tool_call` (scanned,
//!   redacted or withheld, and remembered as untrusted content for
//!   provenance), and what ran is an `execution` entry.
//! - Each upstream tool's contract is pinned ([`PinStore`]); a changed one
//!   is disabled until an operator re-approves it.
//!
//! Identity comes from the channel, never from the client: the config for
//! stdio, the bearer token for HTTP. Upstream credentials are the
//! gateway's own and go to their upstream only.

mod call;
mod catalog;
mod config;
mod http;
mod pins;
mod results;
mod sandbox;
mod session;
mod setup;
mod upstream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rmcp::service::Peer;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use ward_engine::{Credentials, Engine};

use catalog::{Catalog, Listed};
use upstream::{Event, Link};

pub use call::{DENIED, META_CONSTRAINTS, META_DECISION, UNAUTHENTICATED};
pub use config::{
    AgentSpec, ConfigError, DenyAs, GatewayConfig, HttpSpec, IdentitySpec, PrefixMode, Transport,
    Upstream, UpstreamSpec,
};
pub use pins::{contract, fingerprint, PinCheck, PinError, PinRecord, PinStore};
pub use results::{scanned_text, with_redaction, Shape, Unfit};
pub use setup::{operator, register_agent, stdio_credentials};

/// The MCP revisions the gateway speaks, oldest first: to clients (any
/// other revision a client asks for is answered with the newest of these,
/// as the spec's version negotiation has it) and to upstreams.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 2] = ["2025-06-18", "2025-11-25"];

/// The pin database's file name in the data directory.
pub const PINS_FILE: &str = "mcp-pins.db";

/// Why the gateway could not start or serve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pin store failed.
    #[error(transparent)]
    Pins(#[from] PinError),
    /// The stdio identity could not be established.
    #[error("identity: {0}")]
    Identity(String),
    /// Serving failed.
    #[error("{0}")]
    Serve(String),
}

/// State every session shares.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: GatewayConfig,
    pub(crate) links: Vec<Link>,
    pub(crate) pins: PinStore,
    pub(crate) bindings: http::Bindings,
    listed: Mutex<Vec<Option<Listed>>>,
    catalog: RwLock<Arc<Catalog>>,
    peers: Mutex<HashMap<u64, Peer<RoleServer>>>,
    next_peer: AtomicU64,
    next_session: AtomicU64,
    /// One refresh at a time, so rebuilds see each other's results.
    refreshing: tokio::sync::Mutex<()>,
}

impl Shared {
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_default()
    }

    pub(crate) fn next_peer_id(&self) -> u64 {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn remember_peer(&self, id: u64, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(id, peer);
        }
    }

    pub(crate) fn forget_peer(&self, id: u64) {
        if let Ok(mut peers) = self.peers.lock() {
            peers.remove(&id);
        }
    }

    /// Lists one upstream again (connecting if need be), checks each tool
    /// against its pin, and rebuilds the catalog; clients hear of a change.
    pub(crate) async fn refresh(self: &Arc<Self>, index: usize) {
        let Some(link) = self.links.get(index) else {
            return;
        };
        let _one = self.refreshing.lock().await;
        let tools = match link.list_tools().await {
            Ok((tools, _)) => tools,
            Err(e) => {
                eprintln!("ward: mcp: {e}");
                return;
            }
        };
        let shared = Arc::clone(self);
        let name = link.spec.name.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let now = shared.engine.now_ms();
            tools
                .into_iter()
                .map(|tool| {
                    let check = shared
                        .pins
                        .check(&name, &tool.name, &pins::contract(&tool), now);
                    let enabled = match check {
                        Ok(PinCheck::Pinned | PinCheck::Matches) => true,
                        Ok(PinCheck::Changed { pinned, seen, new }) => {
                            if new {
                                eprintln!(
                                    "ward: alert: the contract of tool `{}` of server `{name}` changed \
                                     ({pinned} -> {seen}); it is disabled until an operator re-approves it \
                                     (ward mcp approve {name}/{})",
                                    tool.name, tool.name
                                );
                            }
                            false
                        }
                        Err(e) => {
                            eprintln!("ward: mcp: `{}` of `{name}` is disabled: {e}", tool.name);
                            false
                        }
                    };
                    (tool, enabled)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if let Ok(mut listed) = self.listed.lock() {
            if let Some(slot) = listed.get_mut(index) {
                *slot = Some(Listed {
                    prefix: link.spec.prefix.clone(),
                    tools: checked,
                });
            }
        }
        self.rebuild();
    }

    /// Rebuilds the catalog from what each upstream listed last; tells
    /// every client when what they may see changed.
    fn rebuild(self: &Arc<Self>) {
        let listed = self.listed.lock().map(|l| l.clone()).unwrap_or_default();
        let old = self.catalog();
        let mut new = Catalog::build(
            old.generation,
            &listed,
            self.config.prefix,
            &self.config.separator,
        );
        if new.shape() == old.shape() {
            return;
        }
        new.generation = old.generation + 1;
        for name in new.ambiguous.iter().filter(|n| !old.ambiguous.contains(n)) {
            eprintln!("ward: mcp: two tools would be offered as `{name}`; neither is");
        }
        if let Ok(mut slot) = self.catalog.write() {
            *slot = Arc::new(new);
        }
        self.notify_all();
    }

    /// `notifications/tools/list_changed` to every initialized session.
    fn notify_all(&self) {
        let peers: Vec<(u64, Peer<RoleServer>)> = self
            .peers
            .lock()
            .map(|p| p.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default();
        for (_, peer) in peers {
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), peer.notify_tool_list_changed())
                        .await;
            });
        }
    }

    /// Re-reads the pins of disabled tools: an operator's approval (from
    /// another process) enables them.
    async fn recheck_disabled(self: &Arc<Self>) {
        let listed = self.listed.lock().map(|l| l.clone()).unwrap_or_default();
        let waiting: Vec<(usize, String, String, String)> = listed
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((i, l.as_ref()?)))
            .flat_map(|(i, l)| {
                l.tools.iter().filter(|(_, on)| !on).map(move |(t, _)| {
                    let fp = pins::fingerprint(&pins::contract(t)).unwrap_or_default();
                    (
                        i,
                        self.links
                            .get(i)
                            .map(|k| k.spec.name.clone())
                            .unwrap_or_default(),
                        t.name.to_string(),
                        fp,
                    )
                })
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        let shared = Arc::clone(self);
        let approved: Vec<(usize, String)> = tokio::task::spawn_blocking(move || {
            waiting
                .into_iter()
                .filter(|(_, up, tool, fp)| shared.pins.is_pinned_to(up, tool, fp).unwrap_or(false))
                .map(|(i, _, tool, _)| (i, tool))
                .collect()
        })
        .await
        .unwrap_or_default();
        if approved.is_empty() {
            return;
        }
        if let Ok(mut listed) = self.listed.lock() {
            for (i, tool) in &approved {
                if let Some(Some(l)) = listed.get_mut(*i) {
                    for (t, on) in &mut l.tools {
                        if t.name == tool.as_str() {
                            *on = true;
                        }
                    }
                }
            }
        }
        for (i, tool) in &approved {
            let up = self
                .links
                .get(*i)
                .map(|k| k.spec.name.as_str())
                .unwrap_or_default();
            eprintln!("ward: mcp: tool `{tool}` of server `{up}` was re-approved");
        }
        self.rebuild();
    }
}

/// A running gateway. Cheap to share; dropping the last handle stops its
/// background tasks (call [`Gateway::shutdown`] to stop upstreams first).
pub struct Gateway {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("upstreams", &self.shared.links.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Gateway {
    /// Opens the pins, connects to every upstream (one that cannot be
    /// reached is retried in the background; its tools are missing until
    /// then) and starts watching for changes. `ward_exe` is the `ward`
    /// binary, for upstreams that run in a ring.
    pub async fn start(
        engine: Engine,
        config: GatewayConfig,
        ward_exe: Option<PathBuf>,
    ) -> Result<Gateway, GatewayError> {
        let path = config.data_dir.join(PINS_FILE);
        let pins = tokio::task::spawn_blocking(move || PinStore::open(&path))
            .await
            .map_err(|e| GatewayError::Serve(e.to_string()))??;
        let (events, mut rx) = mpsc::unbounded_channel();
        let links: Vec<Link> = config
            .upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                Link::new(
                    u.clone(),
                    i,
                    ward_exe.clone(),
                    config.connect_timeout,
                    events.clone(),
                )
            })
            .collect();
        for link in &links {
            if let Transport::Stdio { ring: 0, .. } = link.spec.transport {
                eprintln!(
                    "ward: mcp: server `{}` runs unconfined (ring 0); give it a \"ring\" to confine it",
                    link.spec.name
                );
            }
        }
        let n = links.len();
        let shared = Arc::new(Shared {
            engine,
            config,
            links,
            pins,
            bindings: http::Bindings::default(),
            listed: Mutex::new(vec![None; n]),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            peers: Mutex::new(HashMap::new()),
            next_peer: AtomicU64::new(0),
            next_session: AtomicU64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
        });
        let mut first = tokio::task::JoinSet::new();
        for i in 0..n {
            let s = Arc::clone(&shared);
            first.spawn(async move { s.refresh(i).await });
        }
        while first.join_next().await.is_some() {}
        let mut tasks = Vec::new();
        let weak = Arc::downgrade(&shared);
        tasks.push(tokio::spawn(async move {
            while let Some(Event::ToolsChanged(i)) = rx.recv().await {
                let Some(s) = weak.upgrade() else { return };
                s.refresh(i).await;
            }
        }));
        let weak = Arc::downgrade(&shared);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut policy = None;
            let mut ticks: u64 = 0;
            loop {
                tick.tick().await;
                ticks += 1;
                let Some(s) = weak.upgrade() else { return };
                let now = s.engine.active_bundle().map(|b| b.record.digest.clone());
                if policy.is_some() && now != policy {
                    s.notify_all();
                }
                policy = now;
                s.recheck_disabled().await;
                if ticks.is_multiple_of(5) {
                    let missing: Vec<usize> = s
                        .listed
                        .lock()
                        .map(|l| {
                            l.iter()
                                .enumerate()
                                .filter(|(_, t)| t.is_none())
                                .map(|(i, _)| i)
                                .collect()
                        })
                        .unwrap_or_default();
                    for i in missing {
                        s.refresh(i).await;
                    }
                }
            }
        }));
        Ok(Gateway { shared, tasks })
    }

    /// Serves one client over a byte stream pair, as `ward mcp` does over
    /// its stdin and stdout, until the client closes it. The identity is
    /// `creds`, from the gateway's config.
    pub async fn serve_io<R, W>(
        &self,
        creds: Credentials,
        reader: R,
        writer: W,
    ) -> Result<(), GatewayError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let identity = self
            .shared
            .engine
            .authenticate(&creds)
            .map_err(|e| GatewayError::Identity(e.to_string()))?;
        if identity.tenant == "*" {
            return Err(GatewayError::Identity(
                "an operator key (tenant `*`) cannot act as an MCP client; use a key of one tenant"
                    .into(),
            ));
        }
        let n = self.shared.next_session.fetch_add(1, Ordering::Relaxed);
        let session = format!(
            "mcp-stdio-{}-{}-{n}",
            std::process::id(),
            self.shared.engine.now_ms()
        );
        let handler = session::Session::new(
            Arc::clone(&self.shared),
            session::Channel::Stdio { creds, session },
        );
        let transport = rmcp::transport::async_rw::AsyncRwTransport::new_server(reader, writer)
            .with_max_line_length(self.shared.config.max_message_bytes);
        let running = handler
            .serve(transport)
            .await
            .map_err(|e| GatewayError::Serve(format!("the client did not initialize: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| GatewayError::Serve(e.to_string()))?;
        Ok(())
    }

    /// Serves one client over this process's stdin and stdout.
    pub async fn serve_stdio(&self, creds: Credentials) -> Result<(), GatewayError> {
        self.serve_io(creds, tokio::io::stdin(), tokio::io::stdout())
            .await
    }

    /// The Streamable HTTP endpoint, at the config's `http.path`.
    pub fn router(&self) -> axum::Router {
        http::router(Arc::clone(&self.shared))
    }

    /// Serves the Streamable HTTP endpoint on `listener` until `shutdown`.
    pub async fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// The engine behind the gateway.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The tool pins.
    pub fn pins(&self) -> &PinStore {
        &self.shared.pins
    }

    /// The tools as the client sees them (before any identity's filter):
    /// exposed name, upstream server, the tool's name there, enabled.
    pub fn tools(&self) -> Vec<(String, String, String, bool)> {
        let catalog = self.shared.catalog();
        catalog
            .entries
            .iter()
            .map(|e| {
                let up = self
                    .shared
                    .links
                    .get(e.upstream)
                    .map(|l| l.spec.name.clone())
                    .unwrap_or_default();
                (e.exposed.clone(), up, e.original.clone(), e.enabled)
            })
            .collect()
    }

    /// Lists every upstream again now (as on `tools/list_changed`).
    pub async fn refresh(&self) {
        for i in 0..self.shared.links.len() {
            self.shared.refresh(i).await;
        }
        self.shared.recheck_disabled().await;
    }

    /// Stops the upstreams (children exit) and the background tasks.
    pub async fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
        for link in &self.shared.links {
            link.shutdown().await;
        }
    }
}
