//! `GET /v1/audit/query` and `GET /v1/audit/export`: reading a tenant's
//! logs. The caller needs `ward:admin` or `ward:auditor`, in the tenant it
//! asks about (or an operator key of every tenant).

use std::collections::BTreeMap;
use std::path::Path;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ward_audit::{ArgFilter, Filter, Timestamp};
use ward_engine::{AuthError, Identity, ROLE_ADMIN, ROLE_AUDITOR};

use crate::app::App;
use crate::error::ApiError;

fn may_read(who: &Identity, tenant: &str) -> Result<(), ApiError> {
    if !(who.has_role(ROLE_ADMIN) || who.has_role(ROLE_AUDITOR)) {
        return Err(AuthError::Forbidden(format!(
            "reading the audit log needs `{ROLE_ADMIN}` or `{ROLE_AUDITOR}`"
        ))
        .into());
    }
    if who.tenant != "*" && who.tenant != tenant {
        return Err(AuthError::Forbidden(format!("not an auditor of tenant `{tenant}`")).into());
    }
    Ok(())
}

/// Runs `f` on the audit reader on the blocking pool.
async fn with_store<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut dyn ward_audit::Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = std::sync::Arc::clone(&app.audit);
    tokio::task::spawn_blocking(move || {
        let mut store = reader.lock().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the audit reader is poisoned",
            )
        })?;
        f(store.as_mut())
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    })?
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("audit log: {e}"),
    )
}

fn filter(params: Vec<(String, String)>) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    let time = |name: &str, v: &str| {
        Timestamp::parse_bound(v)
            .map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")).field(name))
    };
    for (name, value) in params {
        let slot = match name.as_str() {
            "tenant" => &mut f.tenant,
            "from" => {
                f.from = Some(time("from", &value)?);
                continue;
            }
            "until" => {
                f.until = Some(time("until", &value)?);
                continue;
            }
            "arg" => {
                let cond: ArgFilter = value
                    .parse()
                    .map_err(|e: String| ApiError::bad_request(e).field("arg"))?;
                f.args.push(cond);
                continue;
            }
            "limit" => {
                let n = value.parse().map_err(|_| {
                    ApiError::bad_request(format!("`limit` `{value}` is not a count"))
                        .field("limit")
                })?;
                f.limit = Some(n);
                continue;
            }
            "kind" => f.kind.insert(String::new()),
            "tool" => f.tool.insert(String::new()),
            "outcome" => f.outcome.insert(String::new()),
            "rule" => f.rule.insert(String::new()),
            "principal" => f.principal.insert(String::new()),
            "agent" => f.agent.insert(String::new()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`; expected tenant, from, until, kind, \
                     tool, outcome, rule, principal, agent, arg or limit"
                ))
                .field(other))
            }
        };
        *slot = value;
    }
    if f.tenant.is_empty() {
        return Err(ApiError::bad_request("`tenant` is required").field("tenant"));
    }
    Ok(f)
}

/// Entries matching a filter, per log, with the two checkpoints that bound
/// them so the answer's completeness can be proven.
pub(crate) async fn query(
    State(app): State<App>,
    headers: HeaderMap,
    // `arg` may repeat, so the parameters are read as pairs.
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let Query(params) = params?;
    let f = filter(params)?;
    may_read(&who, &f.tenant)?;
    let answers = with_store(&app, move |s| ward_audit::query(s, &f).map_err(unavailable)).await?;
    // A log with no match is kept: its bounding checkpoints are what prove
    // that an empty answer is complete.
    let logs: Vec<Value> = answers
        .iter()
        .map(|a| {
            let entries: Vec<Value> = a
                .entries
                .iter()
                .map(|(index, entry)| {
                    let statement: Value =
                        serde_json::from_slice(entry.bytes()).unwrap_or(Value::Null);
                    json!({"index": index, "entry": statement})
                })
                .collect();
            json!({
                "origin": a.origin,
                "lower": a.lower.as_ref().map(|c| c.text()),
                "upper": a.upper.as_ref().map(|c| c.text()),
                "entries": entries,
            })
        })
        .collect();
    Ok(Json(json!({ "logs": logs })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportParams {
    tenant: String,
}

/// A tenant's logs as the files `ward audit export` writes, keyed by their
/// path relative to the export directory: write them out and `ward-verify
/// log` checks each log directory.
pub(crate) async fn export(
    State(app): State<App>,
    headers: HeaderMap,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let Query(ExportParams { tenant }) = params?;
    may_read(&who, &tenant)?;
    let files = with_store(&app, move |s| {
        let dir = tempfile::tempdir().map_err(unavailable)?;
        let logs = ward_audit::export(s, &tenant, dir.path()).map_err(unavailable)?;
        let mut files = BTreeMap::new();
        for (_, path) in &logs {
            read_tree(dir.path(), path, &mut files).map_err(unavailable)?;
        }
        Ok(files)
    })
    .await?;
    Ok(Json(json!({ "files": files })).into_response())
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for item in std::fs::read_dir(dir)? {
        let path = item?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.insert(name, std::fs::read_to_string(&path)?);
        }
    }
    Ok(())
}
