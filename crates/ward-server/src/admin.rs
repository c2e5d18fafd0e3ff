//! Operator endpoints: approvals, kill switches and shadow scopes,
//! break-glass, the agent registry, API keys and the bundle archive.
//!
//! The engine checks each write's role (`ward:admin`, `ward:break-glass`, or
//! an approver's role); reads that show operational state also need
//! `ward:admin`, except approvals, which every authenticated caller sees
//! for its own tenant (an approver must find what it is asked to approve).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use ward_core::PrincipalKind;
use ward_engine::{
    AgentRecord, ApiKeyRecord, ApprovalStatus, AuthError, Identity, Scope, SwitchKind, ROLE_ADMIN,
};

use crate::app::App;
use crate::error::{parse_json, ApiError};

type Body = Result<Bytes, BytesRejection>;

fn body_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| ApiError::body(&e))?;
    parse_json(&bytes)
}

/// Gate-wide state (every tenant's switches, the registry, the bundle
/// archive) is shown to operator keys only.
fn operator(who: &Identity) -> Result<(), ApiError> {
    if who.is_operator() {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!(
            "needs an operator key: `{ROLE_ADMIN}` in every tenant (`*`)"
        ))
        .into())
    }
}

fn scope(label: &str, field: &str) -> Result<Scope, ApiError> {
    Scope::parse(label).map_err(|e| ApiError::bad_request(e).field(field))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalFilter {
    status: Option<ApprovalStatus>,
}

pub(crate) async fn list_approvals(
    State(app): State<App>,
    headers: HeaderMap,
    filter: Result<Query<ApprovalFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) = filter?;
    let who = app.identity(&headers)?;
    let mut approvals = app.engine.approvals(&who).await?;
    if let Some(status) = filter.status {
        approvals.retain(|a| a.status == status);
    }
    Ok(Json(json!({ "approvals": approvals })).into_response())
}

pub(crate) async fn get_approval(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let approvals = app.engine.approvals(&who).await?;
    let found = approvals.into_iter().find(|a| a.id == id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no approval `{id}`"),
        )
    })?;
    Ok(Json(found).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    #[serde(default)]
    comment: Option<String>,
}

async fn vote(app: &App, headers: &HeaderMap, id: &str, approve: bool, body: Body) -> Response {
    let result = async {
        let who = app.identity(headers)?;
        let bytes = body.map_err(|e| ApiError::body(&e))?;
        let vote: VoteBody = if bytes.iter().all(u8::is_ascii_whitespace) {
            VoteBody::default()
        } else {
            parse_json(&bytes)?
        };
        let record = app.engine.vote(&who, id, approve, vote.comment).await?;
        if record.status != ApprovalStatus::Pending {
            let seconds = (app.engine.now_ms() - record.created_ms) as f64 / 1000.0;
            app.metrics
                .approval_settled(record.status.as_str(), seconds);
        }
        Ok::<_, ApiError>(Json(record).into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn approve(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    vote(&app, &headers, &id, true, body).await
}

pub(crate) async fn reject(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    vote(&app, &headers, &id, false, body).await
}

pub(crate) async fn list_switches(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app.identity(&headers)?)?;
    let switches = app.engine.switches().await?;
    Ok(Json(json!({ "switches": switches })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    kind: SwitchKind,
    scope: String,
    reason: String,
}

pub(crate) async fn set_switch(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let spec: SwitchBody = body_json(body)?;
    let switch = app
        .engine
        .set_switch(&who, spec.kind, scope(&spec.scope, "scope")?, spec.reason)
        .await?;
    app.metrics.switch_event(spec.kind.as_str(), "set");
    eprintln!(
        "ward: alert: {} switch `{}` set by {}: {}",
        switch.kind.as_str(),
        switch.scope.label(),
        switch.by,
        switch.reason
    );
    Ok((StatusCode::CREATED, Json(switch)).into_response())
}

pub(crate) async fn clear_switch(
    State(app): State<App>,
    headers: HeaderMap,
    Path((kind, label)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let kind = match kind.as_str() {
        "kill" => SwitchKind::Kill,
        "shadow" => SwitchKind::Shadow,
        other => {
            return Err(ApiError::bad_request(format!(
                "switch kind `{other}` is not `kill` or `shadow`"
            )))
        }
    };
    if !app
        .engine
        .clear_switch(&who, kind, scope(&label, "scope")?)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {} switch `{label}` is set", kind.as_str()),
        ));
    }
    app.metrics.switch_event(kind.as_str(), "clear");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassBody {
    scope: String,
    reason: String,
    ttl_secs: u64,
}

pub(crate) async fn break_glass(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let spec: BreakGlassBody = body_json(body)?;
    let grant = app
        .engine
        .break_glass(
            &who,
            scope(&spec.scope, "scope")?,
            spec.reason,
            spec.ttl_secs,
        )
        .await?;
    app.metrics.break_glass_opened();
    eprintln!(
        "ward: alert: break-glass {} opened by {} on `{}` for {} s: {}",
        grant.id,
        grant.operator,
        grant.scope.label(),
        spec.ttl_secs,
        grant.reason
    );
    Ok((StatusCode::CREATED, Json(grant)).into_response())
}

pub(crate) async fn list_agents(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app.identity(&headers)?)?;
    let agents = app.engine.agents().await?;
    Ok(Json(json!({ "agents": agents })).into_response())
}

pub(crate) async fn register_agent(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let agent: AgentRecord = body_json(body)?;
    app.engine.register_agent(&who, agent.clone()).await?;
    Ok((StatusCode::CREATED, Json(agent)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    tenant: String,
    principal: String,
    kind: PrincipalKind,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    agent: Option<String>,
}

pub(crate) async fn create_api_key(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let spec: ApiKeyBody = body_json(body)?;
    let made = app
        .engine
        .create_api_key(
            &who,
            ApiKeyRecord {
                id: String::new(),
                hash: String::new(),
                tenant: spec.tenant,
                principal: spec.principal,
                kind: spec.kind,
                roles: spec.roles,
                agent: spec.agent,
                revoked: false,
            },
        )
        .await?;
    let body = json!({
        "key": made.key, "id": made.record.id, "tenant": made.record.tenant,
        "principal": made.record.principal, "roles": made.record.roles, "agent": made.record.agent,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn bundle_json(b: &ward_engine::BundleRecord, active: Option<&str>) -> serde_json::Value {
    json!({
        "digest": b.digest, "name": b.name, "version": b.version,
        "signed": b.signature.is_some(), "uploaded_ms": b.uploaded_ms,
        "active": active == Some(b.digest.as_str()),
    })
}

pub(crate) async fn list_bundles(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app.identity(&headers)?)?;
    let (bundles, active) = app.engine.bundles().await?;
    let list: Vec<_> = bundles
        .iter()
        .map(|b| bundle_json(b, active.as_deref()))
        .collect();
    Ok(Json(json!({ "active": active, "bundles": list })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleUpload {
    /// File name to YAML text; a one-file bundle is `{"bundle.yaml": "..."}`.
    files: BTreeMap<String, String>,
    /// The detached signature JSON that `ward policy sign` writes.
    #[serde(default)]
    signature: Option<serde_json::Value>,
}

pub(crate) async fn upload_bundle(
    State(app): State<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    let upload: BundleUpload = body_json(body)?;
    if upload.files.is_empty() {
        return Err(ApiError::bad_request("a bundle needs at least one file").field("files"));
    }
    let signature = upload.signature.map(|s| s.to_string());
    let record = app
        .engine
        .upload_bundle(&who, upload.files.into_iter().collect(), signature)
        .await?;
    Ok((StatusCode::CREATED, Json(bundle_json(&record, None))).into_response())
}

pub(crate) async fn activate_bundle(
    State(app): State<App>,
    headers: HeaderMap,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let who = app.identity(&headers)?;
    app.engine.activate_bundle(&who, &digest).await?;
    Ok(Json(json!({ "active": digest })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffQuery {
    old: String,
    new: String,
}

pub(crate) async fn diff_bundles(
    State(app): State<App>,
    headers: HeaderMap,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    operator(&app.identity(&headers)?)?;
    let diff = app.engine.diff_bundles(&q.old, &q.new).await?;
    Ok(Json(diff).into_response())
}
