//! The gateway over Streamable HTTP: rmcp's session service behind a guard
//! that authenticates every request and binds each session to the identity
//! that opened it.
//!
//! The bearer token (an API key or a JWT, as at the gate) is checked on
//! every request: none or a bad one is 401 with `WWW-Authenticate: Bearer`.
//! A request on a session another identity opened is 403, so a session id
//! (and the tool list filtered for its owner) is useless to anyone else.
//! Every response is `Cache-Control: no-store` and varies by
//! `Authorization`, so no intermediary serves one identity's list to
//! another. The token is the gateway's to check and is never sent upstream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use ward_core::Digest;
use ward_engine::{AuthError, Credentials, Identity};

use super::session::{Channel, Session};
use super::Shared;

/// What the guard established for one HTTP request; the session reads it.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) creds: Credentials,
    pub(crate) identity: Identity,
}

/// HTTP sessions and the identity each belongs to.
#[derive(Debug, Default)]
pub(crate) struct Bindings(Mutex<HashMap<String, String>>);

impl Bindings {
    pub(crate) fn forget(&self, session: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(session);
        }
    }

    fn owner(&self, session: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(session).cloned())
    }

    fn bind(&self, session: String, owner: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(session, owner);
        }
    }

    fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(usize::MAX)
    }

    fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| keep(k));
        }
    }
}

#[derive(Clone)]
struct Guard {
    shared: Arc<Shared>,
    sessions: Arc<LocalSessionManager>,
}

/// A JSON-RPC error as an HTTP answer.
fn refuse(status: StatusCode, code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ward\""),
        );
    }
    response
}

/// The identity a session is bound to: who, in which tenant, as which
/// agent, with which roles.
fn owner_key(identity: &Identity) -> String {
    let mut roles = identity.principal.roles.clone();
    roles.sort();
    let text = format!(
        "{}\n{}\n{}\n{}\n{}",
        identity.tenant,
        identity.principal.id,
        identity.principal.kind.as_str(),
        identity.agent.as_deref().unwrap_or("-"),
        roles.join(",")
    );
    Digest::of_bytes(text.as_bytes()).to_string()
}

fn session_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn guard(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let creds = match crate::app::credentials(req.headers()) {
        Ok(c) => c,
        Err(e) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                super::call::UNAUTHENTICATED,
                &e.message,
            )
        }
    };
    if creds.bearer.is_none() {
        let e = AuthError::Missing.to_string();
        return refuse(StatusCode::UNAUTHORIZED, super::call::UNAUTHENTICATED, &e);
    }
    let identity = match g.shared.engine.authenticate(&creds) {
        Ok(i) => i,
        Err(e @ AuthError::Forbidden(_)) => {
            return refuse(
                StatusCode::FORBIDDEN,
                super::call::UNAUTHENTICATED,
                &e.to_string(),
            )
        }
        Err(e) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                super::call::UNAUTHENTICATED,
                &e.to_string(),
            )
        }
    };
    let owner = owner_key(&identity);
    let session = session_header(req.headers());
    let bindings = &g.shared.bindings;
    match &session {
        Some(id) if bindings.owner(id).is_some_and(|o| o != owner) => {
            return refuse(
                StatusCode::FORBIDDEN,
                super::call::UNAUTHENTICATED,
                "this MCP session belongs to another identity",
            );
        }
        Some(_) => {}
        None if req.method() == Method::POST => {
            let max = g.shared.config.http.max_sessions.unwrap_or(1000);
            if bindings.len() >= max {
                // Sessions that ended without a DELETE leave their binding behind.
                let live = g.sessions.sessions.read().await;
                bindings.retain(|id| live.contains_key(id));
            }
            if bindings.len() >= max {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -32000,
                    "the gateway has as many open sessions as it allows",
                );
            }
        }
        None => {}
    }
    let deleting = req.method() == Method::DELETE;
    req.extensions_mut()
        .insert(Authenticated { creds, identity });
    let mut response = next.run(req).await;
    match (&session, session_header(response.headers())) {
        (None, Some(new)) => bindings.bind(new, owner),
        (Some(id), _) if deleting && response.status().is_success() => bindings.forget(id),
        _ => {}
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Authorization, Mcp-Session-Id"),
    );
    response
}

/// The Streamable HTTP endpoint at `config.http.path`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut config = StreamableHttpServerConfig::default();
    if !shared.config.http.allowed_hosts.is_empty() {
        config = config.with_allowed_hosts(shared.config.http.allowed_hosts.clone());
    }
    config.max_request_body_bytes = shared.config.max_message_bytes;
    let sessions = Arc::new(LocalSessionManager::default());
    let factory = Arc::clone(&shared);
    let service = StreamableHttpService::new(
        move || Ok(Session::new(Arc::clone(&factory), Channel::Http)),
        Arc::clone(&sessions),
        config,
    );
    let path = shared
        .config
        .http
        .path
        .clone()
        .unwrap_or_else(|| "/mcp".into());
    let guard_state = Guard {
        shared: Arc::clone(&shared),
        sessions,
    };
    Router::new()
        .route_service(&path, service)
        .layer(middleware::from_fn_with_state(guard_state, guard))
}
