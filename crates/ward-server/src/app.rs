//! The application: the engine, an audit-log reader, metrics and traces,
//! and the router that serves them.

use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use ward_audit::Store;
use ward_engine::{AuthError, Credentials, Engine, Identity};

use crate::admission::{self, Admission};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::traces::Tracer;
use crate::{admin, audit, decide};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest request body accepted; larger is 413.
    pub max_body_bytes: usize,
    /// The most decisions (`/v1/decide` and `/v1/observe`) in flight at
    /// once; a request beyond it is 503 `overloaded` (see `admission.rs`).
    pub max_in_flight: usize,
}

/// The default bound on decisions in flight: at about 10,000 decisions/s,
/// a full queue is about 100 ms, well inside the default 500 ms budget.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 1 << 20,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// A connection to the audit log for reading (query and export), apart
/// from the writer's. Used on the blocking pool.
pub type AuditReader = Arc<Mutex<Box<dyn Store>>>;

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub(crate) engine: Engine,
    pub(crate) audit: AuditReader,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) tracer: Arc<Tracer>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// Composes an application.
    pub fn new(engine: Engine, audit: AuditReader, metrics: Arc<Metrics>, tracer: Tracer) -> App {
        App {
            engine,
            audit,
            metrics,
            tracer: Arc::new(tracer),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The tracer.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Authenticates a request's headers.
    pub(crate) fn identity(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        Ok(self.engine.authenticate(&credentials(headers)?)?)
    }
}

/// The credentials in a request's headers: `Authorization: Bearer <API key
/// or JWT>`, and optionally `Ward-On-Behalf-Of: <JWT>` for an agent acting
/// for a signed-in human.
pub(crate) fn credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                    AuthError::Invalid(format!("the `{name}` header is not visible ASCII")).into()
                })
            })
            .transpose()
    };
    let bearer = match text(header::AUTHORIZATION.as_str())? {
        None => None,
        Some(value) => {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::from(AuthError::Invalid(
                        "`Authorization` must be `Bearer <api key or JWT>`".into(),
                    ))
                })?;
            Some(token.to_owned())
        }
    };
    Ok(Credentials {
        bearer,
        on_behalf_of: text("ward-on-behalf-of")?,
    })
}

/// The router: every route of `openapi.json`.
pub fn router(app: App, config: &ServerConfig) -> Router {
    let admission = axum::middleware::from_fn_with_state(
        Admission::new(config.max_in_flight, Arc::clone(&app.metrics)),
        admission::admit,
    );
    Router::new()
        .route("/v1/decide", post(decide::decide).layer(admission.clone()))
        .route("/v1/observe", post(decide::observe).layer(admission))
        .route("/v1/approvals", get(admin::list_approvals))
        .route("/v1/approvals/{id}", get(admin::get_approval))
        .route("/v1/approvals/{id}/approve", post(admin::approve))
        .route("/v1/approvals/{id}/reject", post(admin::reject))
        .route(
            "/v1/switches",
            get(admin::list_switches).post(admin::set_switch),
        )
        .route("/v1/switches/{kind}/{scope}", delete(admin::clear_switch))
        .route("/v1/break-glass", post(admin::break_glass))
        .route(
            "/v1/agents",
            get(admin::list_agents).post(admin::register_agent),
        )
        .route("/v1/api-keys", post(admin::create_api_key))
        .route(
            "/v1/bundles",
            get(admin::list_bundles).post(admin::upload_bundle),
        )
        .route("/v1/bundles/diff", get(admin::diff_bundles))
        .route(
            "/v1/bundles/{digest}/activate",
            post(admin::activate_bundle),
        )
        .route("/v1/audit/query", get(audit::query))
        .route("/v1/audit/export", get(audit::export))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}

async fn metrics(axum::extract::State(app): axum::extract::State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// Ready when a bundle is active and the cached state is fresh: exactly
/// when decisions can be anything but `policy_unavailable`.
async fn healthz(axum::extract::State(app): axum::extract::State<App>) -> Response {
    let (age, stale) = app.engine.state_age();
    let bundle = app.engine.active_bundle().map(|b| {
        serde_json::json!({
            "name": b.record.name, "version": b.record.version, "digest": b.record.digest,
        })
    });
    let ready = bundle.is_some() && !stale;
    let body = serde_json::json!({
        "status": if ready { "ok" } else { "unavailable" },
        "bundle": bundle,
        "state_age_ms": u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        "verifier_key": app.engine.verifier_key(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
