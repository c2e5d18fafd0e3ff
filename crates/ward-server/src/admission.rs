//! Load shedding in front of the pipeline.
//!
//! At most `--max-in-flight` decisions (`POST /v1/decide` and `/v1/observe`
//! together) are in the pipeline at once. A request beyond that is
//! answered at once with 503 `overloaded` and `Retry-After: 1`, before its
//! body is parsed: it is not a decision, has no receipt, and permits nothing
//! (the SDK and the MCP proxy treat any answer but a decision as a deny).
//!
//! Without a bound, an open-loop load above what the disk can commit piles
//! up in the gate until receipts wait past the decision budget; every
//! caller then gets a `timeout` deny, and each of those denies is itself
//! logged, which adds to the writer's load. A bound keeps the queue short
//! enough that the requests admitted are decided within their budget, and
//! tells the others to come back.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The most body bytes read (and dropped) from a shed request.
const DRAIN_BYTES: usize = 64 * 1024;

/// The decisions in flight, bounded.
#[derive(Clone)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
    max: usize,
    metrics: Arc<Metrics>,
}

impl Admission {
    /// At most `max` (at least one) decisions in flight.
    pub(crate) fn new(max: usize, metrics: Arc<Metrics>) -> Admission {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Admission {
            slots: Arc::new(Semaphore::new(max)),
            max,
            metrics,
        }
    }
}

/// The middleware: a slot for the request, or 503.
pub(crate) async fn admit(State(gate): State<Admission>, request: Request, next: Next) -> Response {
    let Ok(slot) = gate.slots.try_acquire() else {
        gate.metrics.shed();
        // A body left unread would make the server close the connection
        // (it cannot find the next request), so a shed caller would pay a
        // new connection for every try. Small bodies are read and dropped;
        // a large one is left, and its connection closed.
        let _ = axum::body::to_bytes(request.into_body(), DRAIN_BYTES).await;
        let mut response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the gate is deciding {} calls already (`--max-in-flight`); nothing was \
                 decided or permitted, try again shortly",
                gate.max
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let _in_flight = gate.metrics.in_flight();
    let response = next.run(request).await;
    drop(slot);
    response
}
