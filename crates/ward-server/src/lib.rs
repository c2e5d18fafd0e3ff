//! Ward's HTTP gate (`ward serve`).
//!
//! [`router`] serves the decision API (`POST /v1/decide`, `POST
//! /v1/observe`), the operator API (approvals, kill switches, break-glass,
//! the agent registry, API keys, bundles, audit query and export),
//! `/metrics`, `/healthz` and `/openapi.json` over one [`App`]. [`node`]
//! composes an app from a data directory (the embedded SQLite default) or a
//! PostgreSQL store. Every route is in `openapi.json`, and a test checks
//! that each one there is served.

mod admin;
mod admission;
mod app;
mod audit;
mod decide;
mod error;
pub mod mcp;
mod metrics;
pub mod node;
mod reload;
mod traces;

pub use app::{router, App, AuditReader, ServerConfig, DEFAULT_MAX_IN_FLIGHT, OPENAPI};
pub use decide::REPLAYED_HEADER;
pub use error::ApiError;
pub use metrics::{DenyRateConfig, Metrics};
pub use reload::watch_bundle;
pub use traces::{TraceError, Tracer};

/// Serves `app` on `listener` until `shutdown` resolves; requests in flight
/// are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app, &config))
        .with_graceful_shutdown(shutdown)
        .await
}
