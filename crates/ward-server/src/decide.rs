//! `POST /v1/decide` and `POST /v1/observe`.
//!
//! A request the gate can judge always gets a 200 with a Decision, and
//! every failure inside the pipeline is a deny in that body. Only requests
//! it cannot judge at all get another status: unreadable bytes (400), a
//! body over the limit (413), no or a bad credential (401), a body actor the
//! credential does not cover (403).

use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_core::{Intervention, Request};
use ward_engine::{bind_actor, Decided, Execution};

use crate::app::{credentials, App};
use crate::error::{parse_json, ApiError};

/// The response header that marks the stored answer to a repeated
/// idempotency key.
pub const REPLAYED_HEADER: &str = "ward-replayed";

/// What ran, for a `post_tool_call` that reports its execution.
type Ran<'a> = (&'a Request, &'a Execution, &'a serde_json::Value);

async fn judge(
    app: &App,
    headers: &HeaderMap,
    request: Request,
    ran: Option<Ran<'_>>,
) -> Result<Response, ApiError> {
    let creds = credentials(headers)?;
    let started = SystemTime::now();
    let clock = Instant::now();
    let decided = match ran {
        None => app.engine.decide(&creds, request).await?,
        Some((ran, execution, result)) => {
            let decided = app
                .engine
                .decide_with_execution(&creds, request, ran, execution, result)
                .await?;
            // The caller reported what ran so that it is recorded: if it
            // could not be, that is the answer (the decision's own entry
            // shared its commit and is not in the log either).
            if let Some(Err(e)) = decided.execution {
                return Err(ward_engine::EngineError::Audit(e).into());
            }
            decided
        }
    };
    let took = clock.elapsed();
    app.metrics.decided(&decided, took);
    app.tracer.decided(&decided, started, took);
    for alert in &decided.alerts {
        eprintln!("ward: alert: {alert}");
    }
    Ok(decision_response(&decided))
}

fn decision_response(decided: &Decided) -> Response {
    let mut response = axum::Json(&decided.decision).into_response();
    if decided.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// Decides a tool call (or any other intervention) before it happens.
pub(crate) async fn decide(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // A caller with no credential hears that first, whatever it sent.
    if credentials(&headers)?.bearer.is_none() {
        return Err(ward_engine::AuthError::Missing.into());
    }
    let bytes = body.map_err(|e| ApiError::body(&e))?;
    let request = Request::from_json(&bytes)?;
    judge(&app, &headers, request, None).await
}

/// The body of `POST /v1/observe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Observation {
    /// The content event: `input`, `post_tool_call` or `output`, with its
    /// `content` (and, for a tool result, its `source`).
    request: serde_json::Value,
    /// For a `post_tool_call`, what ran: the decision it ran under, its
    /// status and duration. Recorded in the audit log and the tool's
    /// circuit breaker.
    #[serde(default)]
    execution: Option<Execution>,
}

/// Content entering or leaving the agent's context: scanned (allowed,
/// redacted or quarantined, as the bundle says), remembered for provenance,
/// and for a tool result, what ran is recorded.
pub(crate) async fn observe(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if credentials(&headers)?.bearer.is_none() {
        return Err(ward_engine::AuthError::Missing.into());
    }
    let bytes = body.map_err(|e| ApiError::body(&e))?;
    let observation: Observation = parse_json(&bytes)?;
    let inner = serde_json::to_vec(&observation.request)
        .map_err(|e| ApiError::bad_request(e.to_string()).field("request"))?;
    let mut request = Request::from_json(&inner).map_err(|e| {
        let e = ApiError::from(e);
        let field = e.field.as_deref().map_or_else(
            || "request".to_owned(),
            |f| format!("request.{}", f.trim_start_matches('.')),
        );
        e.field(field)
    })?;
    if request.intervention == Intervention::PreToolCall
        || request.intervention == Intervention::ListTools
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is decided by POST /v1/decide; /v1/observe takes input, post_tool_call and output",
            request.intervention.as_str()
        ))
        .field("request.intervention"));
    }
    if let Some(execution) = &observation.execution {
        if request.intervention != Intervention::PostToolCall {
            return Err(ApiError::bad_request(
                "`execution` reports a tool call, so the request must be a post_tool_call",
            )
            .field("execution"));
        }
        // The execution entry records the actor the credential establishes,
        // never the body's.
        let who = app.identity(&headers)?;
        request.actor = bind_actor(&who, &request.actor)?;
        let result = serde_json::Value::String(request.content.clone().unwrap_or_default());
        let ran = request.clone();
        return judge(&app, &headers, request, Some((&ran, execution, &result))).await;
    }
    judge(&app, &headers, request, None).await
}
