//! `ward serve`: the gate over HTTP.
//!
//! With no flags it runs on the embedded default: state, audit log and keys
//! in `./ward-data`, and the support example bundle on first start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ward_engine::{load_jwks, JwtConfig};
use ward_server::node::{self, NodeConfig};
use ward_server::ServerConfig;

use crate::Failure;

pub(crate) const SUPPORT_BUNDLE: &str =
    include_str!("../../../examples/bundles/support/bundle.yaml");

#[derive(Debug, Args)]
#[command(after_help = "\
On first start the data directory gets a log signing key (log.key) and an
operator API key (admin.key, mode 0600) with the ward:admin, ward:auditor and
ward:break-glass roles. Use it to register agents and make their keys:

  curl -H \"Authorization: Bearer $(cat ward-data/admin.key)\" http://127.0.0.1:8480/v1/agents

The HTTP API is described at /openapi.json and in docs/api.md.")]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// Data directory: state, audit log, log key and operator key.
    #[arg(long, default_value = "ward-data")]
    data: PathBuf,
    /// A bundle file or directory, activated at start and reloaded when it
    /// changes; its signature is read from `PATH.sig` if present (required
    /// with --trusted-bundle-key). Without it the store's active bundle is
    /// kept, or on first start the embedded support example is activated.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// `postgres://...` to keep state and audit in PostgreSQL, shared by
    /// several nodes (each keeps its own data directory for its log key).
    #[arg(long)]
    store: Option<String>,
    /// The name of the log key made on first start.
    #[arg(long, default_value = "ward.local/node")]
    log_name: String,
    /// A JWKS file: accept human principals' JWTs (RS256, ES256, EdDSA).
    #[arg(long, requires_all = ["jwt_issuer", "jwt_audience"])]
    jwks: Option<PathBuf>,
    /// The JWT issuer (`iss`) to accept.
    #[arg(long)]
    jwt_issuer: Option<String>,
    /// The JWT audience (`aud`) to accept.
    #[arg(long)]
    jwt_audience: Option<String>,
    /// Accept uploaded bundles only when signed by this key
    /// (`ward-ed25519:...`); may repeat.
    #[arg(long = "trusted-bundle-key")]
    trusted_bundle_keys: Vec<String>,
    /// The largest request body, in bytes; larger is 413.
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// The most decisions (`/v1/decide` and `/v1/observe`) in the pipeline
    /// at once. A request beyond it gets 503 `overloaded` with
    /// `Retry-After: 1` at once, instead of waiting past its budget.
    #[arg(long, value_name = "N", default_value_t = ward_server::DEFAULT_MAX_IN_FLIGHT,
          value_parser = at_least_one)]
    max_in_flight: usize,
    /// The decision time budget, in milliseconds; past it the answer is a
    /// deny with `timeout`.
    #[arg(long, default_value_t = 500)]
    decision_budget_ms: u64,
    /// How often the bundle path is checked for changes, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    reload_every_ms: u64,
    /// Send OTLP traces (HTTP/protobuf) to this collector, e.g.
    /// `http://127.0.0.1:4318`.
    #[arg(long)]
    otlp_endpoint: Option<String>,
}

fn node_config(args: &ServeArgs) -> Result<NodeConfig, Failure> {
    let mut config = NodeConfig::embedded(&args.data);
    if let Some(url) = &args.store {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Failure::input(format!(
                "`--store {url}`: expected a `postgres://` URL (the default is SQLite in `--data`)"
            )));
        }
        config.postgres = Some(url.clone());
    }
    if let Some(path) = &args.bundle {
        let (files, signature) = node::read_signed_bundle(path).map_err(Failure::input)?;
        config.bundle = Some(files);
        config.bundle_signature = signature;
    }
    config.fallback_bundle = Some(vec![("support/bundle.yaml".into(), SUPPORT_BUNDLE.into())]);
    config.log_name.clone_from(&args.log_name);
    if let Some(path) = &args.jwks {
        let jwt = JwtConfig::new(
            args.jwt_issuer.clone().unwrap_or_default(),
            args.jwt_audience.clone().unwrap_or_default(),
        );
        config.tokens = Some(load_jwks(path, jwt).map_err(|e| Failure::input(e.to_string()))?);
    }
    config
        .engine
        .trusted_bundle_keys
        .clone_from(&args.trusted_bundle_keys);
    config.engine.decision_budget = Duration::from_millis(args.decision_budget_ms.max(1));
    if let Some(endpoint) = &args.otlp_endpoint {
        // TODO(otlp): wire Tracer::otlp once traces.rs lands.
        return Err(Failure::input(format!(
            "`--otlp-endpoint {endpoint}`: not built yet"
        )));
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub(crate) fn run(args: &ServeArgs) -> Result<(), Failure> {
    let config = node_config(args)?;
    // The stores open before the runtime: PostgreSQL's client runs its own.
    let opened = node::open(config).map_err(|e| Failure::failed(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))?;
    let node = runtime.block_on(async {
        let node = opened
            .start()
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::failed(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::failed(e.to_string()))?;
        let engine = node.app.engine().clone();
        let reload = args.bundle.clone().map(|path| {
            ward_server::watch_bundle(
                &engine,
                path,
                Duration::from_millis(args.reload_every_ms.max(50)),
                |event| eprintln!("ward: {event}"),
            )
        });
        let bundle = engine
            .active_bundle()
            .map(|b| {
                format!(
                    "{} {} ({})",
                    b.record.name, b.record.version, b.record.digest
                )
            })
            .unwrap_or_else(|| "none".into());
        let store = args.store.as_deref().map_or("SQLite", |_| "PostgreSQL");
        eprintln!("ward: data directory {} ({store})", args.data.display());
        eprintln!("ward: bundle {bundle}");
        eprintln!("ward: audit log verifier key {}", engine.verifier_key());
        if node.new_admin_key.is_some() {
            eprintln!(
                "ward: first start: operator API key written to {}",
                node.admin_key_path.display()
            );
        }
        eprintln!("ward: listening on http://{addr}");
        let server = ServerConfig {
            max_body_bytes: args.max_body,
            max_in_flight: args.max_in_flight,
        };
        ward_server::serve(listener, node.app.clone(), server, shutdown_signal())
            .await
            .map_err(|e| Failure::failed(format!("server: {e}")))?;
        // The last batch of spans leaves before the process does.
        if let Err(e) = node.app.tracer().shutdown().await {
            eprintln!("ward: traces: {e}");
        }
        if let Some(task) = reload {
            task.abort();
            let _ = task.await;
        }
        Ok(node)
    });
    // The node holds the only engine now; it is dropped off the runtime,
    // since PostgreSQL's synchronous client blocks as it closes.
    drop(runtime);
    drop(node?);
    eprintln!("ward: stopped");
    Ok(())
}

/// A count that must be at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
