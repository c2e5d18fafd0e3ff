//! API errors: every failure that is not a decision is a JSON body
//! `{"error": CODE, "message": TEXT, "field": PATH?}` with its HTTP status.
//!
//! Decisions (including every deny) are 200 with the Decision JSON; the
//! statuses here are for requests the gate could not judge at all: bad
//! bytes, no or wrong credentials, an admin call that failed.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use ward_core::RequestParseError;
use ward_engine::{AuthError, EngineError};

/// An API failure with its status.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, snake_case error code.
    pub code: &'static str,
    /// What went wrong, for a human.
    pub message: String,
    /// The offending field of the body, as a dotted path, when known.
    pub field: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn field(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        // serde_path_to_error writes the root as `.` and an unknown position as `?`.
        self.field = (!matches!(path.as_str(), "" | "." | "?")).then_some(path);
        self
    }

    /// A body the extractor refused: too large (413) or unreadable (400).
    pub(crate) fn body(rejection: &BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than the gate accepts (`--max-body`)",
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {rejection}"))
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(format!("bad query string: {}", e.body_text()))
    }
}

impl From<RequestParseError> for ApiError {
    fn from(e: RequestParseError) -> Self {
        let path = e.path().to_owned();
        ApiError::bad_request(e.to_string()).field(path)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing | AuthError::Invalid(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.to_string())
            }
            AuthError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Auth(a) => a.into(),
            EngineError::State(_) | EngineError::Audit(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            EngineError::Bundle(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bundle_refused",
                e.to_string(),
            ),
            EngineError::Invalid(_) => ApiError::bad_request(e.to_string()),
            EngineError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.code, "message": self.message});
        if let (Some(field), Some(map)) = (self.field, body.as_object_mut()) {
            map.insert("field".into(), field.into());
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// Parses a JSON body, naming the field that failed.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!("malformed JSON body: {}", e.into_inner())).field(path)
    })
}
