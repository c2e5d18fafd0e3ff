//! `ward mcp`: the MCP gateway. One MCP server to the client (stdio by
//! default, Streamable HTTP with `--listen`) in front of the upstream
//! servers of a config file, every call through an embedded gate node.
//!
//! `ward mcp pins` lists the tool contracts the gateway pinned, and `ward
//! mcp approve SERVER/TOOL` re-approves a tool whose contract changed. In
//! stdio mode nothing but the protocol is written to stdout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use ward_server::mcp::{self, Gateway, GatewayConfig, PinStore};
use ward_server::node::{self, NodeConfig};
use ward_server::ServerConfig;

use crate::Failure;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
#[command(after_help = "\
The config file holds `mcpServers` (as Claude Desktop and Cursor write it)
and a `ward` section: the data directory, the bundle, the agent and the
stdio identity. See docs/mcp.md.

Examples:
  ward mcp --config ward-mcp.json                       # stdio, for Claude Desktop
  ward mcp --config ward-mcp.json --listen 127.0.0.1:8490  # Streamable HTTP at /mcp
  ward mcp pins --config ward-mcp.json
  ward mcp approve --config ward-mcp.json fs/read_file")]
pub(crate) struct McpArgs {
    #[command(subcommand)]
    command: Option<McpCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The gateway's config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve Streamable HTTP on this address instead of stdio.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The data directory (overrides `ward.data`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A bundle file or directory (overrides `ward.bundle`), reloaded when it changes.
    #[arg(long)]
    bundle: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum McpCommand {
    /// List pinned tool contracts and those waiting for approval (JSON lines).
    Pins(PinArgs),
    /// Approve the changed contract of SERVER/TOOL; it becomes the pin.
    Approve(ApproveArgs),
}

#[derive(Debug, Args)]
struct PinArgs {
    /// The gateway's config file (its data directory holds the pins).
    #[arg(long)]
    config: PathBuf,
    /// The data directory (overrides `ward.data`).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ApproveArgs {
    #[command(flatten)]
    at: PinArgs,
    /// Who approves, for the record.
    #[arg(long, default_value = "operator")]
    by: String,
    /// `SERVER/TOOL`, the tool's name on its server.
    #[arg(required = true)]
    tools: Vec<String>,
}

fn load(path: &Path, data: Option<&PathBuf>) -> Result<GatewayConfig, Failure> {
    let mut config = GatewayConfig::load(path).map_err(|e| Failure::input(e.to_string()))?;
    if let Some(d) = data {
        config.data_dir.clone_from(d);
    }
    Ok(config)
}

fn pins(at: &PinArgs) -> Result<PinStore, Failure> {
    let config = load(&at.config, at.data.as_ref())?;
    PinStore::open(&config.data_dir.join(mcp::PINS_FILE))
        .map_err(|e| Failure::failed(e.to_string()))
}

pub(crate) fn run(args: McpArgs) -> Result<(), Failure> {
    match args.command {
        Some(McpCommand::Pins(at)) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            for pin in pins(&at)?
                .list()
                .map_err(|e| Failure::failed(e.to_string()))?
            {
                let line =
                    serde_json::to_string(&pin).map_err(|e| Failure::failed(e.to_string()))?;
                match writeln!(out, "{line}") {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    r => r.map_err(|e| Failure::failed(e.to_string()))?,
                }
            }
            Ok(())
        }
        Some(McpCommand::Approve(a)) => {
            let store = pins(&a.at)?;
            let now = i64::try_from(ward_audit::Timestamp::now().unix_millis()).unwrap_or(i64::MAX);
            for name in &a.tools {
                let (server, tool) = name
                    .split_once('/')
                    .ok_or_else(|| Failure::input(format!("`{name}` is not SERVER/TOOL")))?;
                let approved = store
                    .approve(server, tool, &a.by, now)
                    .map_err(|e| Failure::failed(e.to_string()))?;
                if !approved {
                    return Err(Failure::failed(format!(
                        "`{name}` has no changed contract waiting for approval"
                    )));
                }
                eprintln!("ward: approved the new contract of `{name}`");
            }
            Ok(())
        }
        None => serve(&args.serve),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let path = args
        .config
        .as_ref()
        .ok_or_else(|| Failure::input("`ward mcp` needs `--config FILE`"))?;
    let mut config = load(path, args.data.as_ref())?;
    if let Some(b) = &args.bundle {
        config.bundle = Some(b.clone());
    }
    let listen = args.listen.or(config.http.listen);
    let mut node_config = NodeConfig::embedded(&config.data_dir);
    node_config.postgres.clone_from(&config.store);
    node_config.bundle = config
        .bundle
        .as_deref()
        .map(node::read_bundle)
        .transpose()
        .map_err(Failure::input)?;
    node_config.log_name = "ward.local/mcp".into();
    let opened = node::open(node_config).map_err(|e| Failure::failed(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))?;
    let node = runtime.block_on(async {
        let node = opened
            .start()
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        let engine = node.app.engine().clone();
        match engine.active_bundle() {
            Some(b) => eprintln!(
                "ward: mcp: bundle {} {} ({})",
                b.record.name, b.record.version, b.record.digest
            ),
            None => eprintln!(
                "ward: mcp: no bundle is active; every call is denied (give `ward.bundle`)"
            ),
        }
        if config.agent.register.is_some() {
            let operator = mcp::operator(&engine, &node.admin_key_path)
                .map_err(|e| Failure::failed(e.to_string()))?;
            mcp::register_agent(&engine, &config, &operator)
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
        }
        let reload = config.bundle.clone().map(|p| {
            ward_server::watch_bundle(&engine, p, Duration::from_secs(1), |event| {
                eprintln!("ward: {event}")
            })
        });
        let ward_exe = std::env::current_exe().ok();
        let gateway = Gateway::start(engine.clone(), config.clone(), ward_exe)
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        for (name, server, tool, enabled) in gateway.tools() {
            let state = if enabled {
                ""
            } else {
                " (disabled: contract changed)"
            };
            eprintln!("ward: mcp: tool `{name}` from `{server}` (`{tool}`){state}");
        }
        let api = match config.api_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Failure::failed(format!("cannot listen on {addr}: {e}")))?;
                eprintln!(
                    "ward: mcp: gate API on http://{}",
                    listener
                        .local_addr()
                        .map_err(|e| Failure::failed(e.to_string()))?
                );
                let app = node.app.clone();
                Some(tokio::spawn(async move {
                    let _ = ward_server::serve(
                        listener,
                        app,
                        ServerConfig::default(),
                        shutdown_signal(),
                    )
                    .await;
                }))
            }
            None => None,
        };
        let served = match listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Failure::failed(format!("cannot listen on {addr}: {e}")))?;
                let local = listener
                    .local_addr()
                    .map_err(|e| Failure::failed(e.to_string()))?;
                let path = config.http.path.as_deref().unwrap_or("/mcp");
                eprintln!(
                    "ward: mcp: Streamable HTTP on http://{local}{path} (revisions {})",
                    mcp::SUPPORTED_PROTOCOL_VERSIONS.join(", ")
                );
                gateway
                    .serve_http(listener, shutdown_signal())
                    .await
                    .map_err(|e| Failure::failed(format!("server: {e}")))
            }
            None => {
                let creds = mcp::stdio_credentials(&engine, &config)
                    .await
                    .map_err(|e| Failure::failed(e.to_string()))?;
                eprintln!(
                    "ward: mcp: serving on stdio (revisions {})",
                    mcp::SUPPORTED_PROTOCOL_VERSIONS.join(", ")
                );
                tokio::select! {
                    r = gateway.serve_stdio(creds) => r.map_err(|e| Failure::failed(e.to_string())),
                    () = shutdown_signal() => Ok(()),
                }
            }
        };
        gateway.shutdown().await;
        if let Some(task) = reload {
            task.abort();
        }
        if let Some(task) = api {
            task.abort();
        }
        served.map(|()| node)
    });
    // PostgreSQL's synchronous client blocks as it closes: drop off the runtime.
    drop(runtime);
    drop(node?);
    eprintln!("ward: mcp: stopped");
    Ok(())
}
