//! `tools/call` through the gate: the full pipeline before dispatch, the
//! outcome handled, the result through `post_tool_call`, and what ran
//! recorded.
//!
//! - `deny`: a tool result with `isError: true` naming the reason and the
//!   decision id (or a JSON-RPC error, with `deny_as: error`).
//! - `require_approval`: a result saying approval is pending, with its id.
//!   The session remembers it, so a retry of the same call carries it and
//!   runs once approved. With `approval_wait_ms` the gateway first waits.
//! - `remediate`: the rewritten arguments are what is forwarded.
//! - `allow_with_constraints`: the constraints travel in `_meta`
//!   (`ward.dev/constraints`); a constraint the upstream cannot honour
//!   denies the call.
//!
//! Every path that does not forward ends in a deny with a reason code; the
//! call only ever reaches an upstream with a durable receipt. Dispatch and
//! what follows run on their own task, so a client that goes away mid-call
//! cannot stop the execution being recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ErrorCode, ErrorData};
use serde_json::{json, Map, Value};
use ward_audit::ExecutionStatus;
use ward_core::{
    Actor, ApprovalTicket, Constraints, ContentSource, Decision, Digest, Intervention, Outcome,
    Reason, ReasonCode, Request,
};
use ward_engine::{ApprovalStatus, AuthError, Credentials, Execution};

use super::catalog::Entry;
use super::config::DenyAs;
use super::results;
use super::upstream::UpstreamError;
use super::Shared;

/// The JSON-RPC error code of a denied call (`deny_as: error`).
pub const DENIED: i32 = -32001;
/// The JSON-RPC error code when the caller's credential no longer holds.
pub const UNAUTHENTICATED: i32 = -32002;

/// The `_meta` key of Ward's decisions on a result.
pub const META_DECISION: &str = "ward.dev/decision";
/// The `_meta` key of the constraints sent upstream.
pub const META_CONSTRAINTS: &str = "ward.dev/constraints";

/// Who is calling: fixed by the channel, never by the client.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) creds: Credentials,
    pub(crate) actor: Actor,
}

/// Approvals this session is waiting on, by the digest of the call.
#[derive(Debug, Default)]
pub(crate) struct Pending(std::sync::Mutex<HashMap<String, String>>);

impl Pending {
    fn get(&self, digest: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(digest).cloned())
    }

    fn put(&self, digest: String, approval: String) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= 4096 {
                m.clear();
            }
            m.insert(digest, approval);
        }
    }

    fn forget(&self, digest: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(digest);
        }
    }
}

/// A refusal: what the client is told when a call does not run (or its
/// result is withheld).
struct Refusal {
    decision_id: String,
    outcome: Outcome,
    reasons: Vec<Reason>,
    approval: Option<ApprovalTicket>,
    text: String,
}

fn reason(code: ReasonCode, message: impl Into<String>) -> Reason {
    Reason {
        code,
        rule: None,
        message: message.into(),
    }
}

fn summary(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| match &r.rule {
            Some(rule) => format!("{} ({}, rule `{rule}`)", r.message, r.code.as_str()),
            None => format!("{} ({})", r.message, r.code.as_str()),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn refusal_of(decision: &Decision, text: String) -> Refusal {
    Refusal {
        decision_id: decision.decision_id.clone(),
        outcome: decision.outcome,
        reasons: decision.reasons.clone(),
        approval: decision.approval.clone(),
        text,
    }
}

fn denied(tool: &str, decision: &Decision) -> Refusal {
    let text = format!(
        "Ward denied this call to `{tool}`; it did not run. Decision {}: {}.",
        decision.decision_id,
        summary(&decision.reasons)
    );
    refusal_of(decision, text)
}

fn pending(tool: &str, decision: &Decision, approval: &ApprovalTicket) -> Refusal {
    let text = format!(
        "Ward: this call to `{tool}` needs approval before it can run, and it has not run. \
         Approval {} is pending (approvers: {}; expires {}). Decision {}: {}. \
         Once it is approved, make the same call again with the same arguments.",
        approval.id,
        approval.approvers.join(", "),
        approval.expires_at,
        decision.decision_id,
        summary(&decision.reasons)
    );
    let mut r = refusal_of(decision, text);
    r.approval = Some(approval.clone());
    r
}

/// A deny the gateway makes before the gate is asked (no upstream offers
/// the tool, its contract changed, the upstream cannot honour the policy's
/// constraints, the arguments have no canonical form), recorded through
/// the gate so that it has a receipt in the audit log like any decision.
async fn refuse(
    shared: &Shared,
    caller: &Caller,
    request: Request,
    code: ReasonCode,
    why: String,
) -> Result<CallToolResult, ErrorData> {
    let tool = request.tool.clone().unwrap_or_default();
    let refused = shared
        .engine
        .refuse(&caller.creds, request, code, why)
        .await
        .map_err(auth_error)?;
    render(shared.config.deny_as, denied(&tool, &refused.decision))
}

fn decision_meta(r: &Refusal) -> Value {
    json!({
        "decision_id": r.decision_id,
        "outcome": r.outcome.as_str(),
        "reasons": r.reasons,
        "approval": r.approval,
    })
}

fn render(deny_as: DenyAs, r: Refusal) -> Result<CallToolResult, ErrorData> {
    let meta = decision_meta(&r);
    if deny_as == DenyAs::Error && r.outcome == Outcome::Deny {
        return Err(ErrorData::new(ErrorCode(DENIED), r.text, Some(meta)));
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(r.text)]);
    let mut m = rmcp::model::MetaObject::new();
    m.insert(META_DECISION.into(), meta);
    result.meta = Some(m);
    Ok(result)
}

fn auth_error(e: AuthError) -> ErrorData {
    ErrorData::new(ErrorCode(UNAUTHENTICATED), e.to_string(), None)
}

/// A `pre_tool_call` of `tool` with the client's arguments and nothing
/// else: what the gateway records when no server's tool answers to it.
fn bare_request(caller: &Caller, tool: &str, args: Map<String, Value>) -> Request {
    Request {
        intervention: Intervention::PreToolCall,
        actor: caller.actor.clone(),
        tool: Some(tool.to_owned()),
        action: None,
        target: None,
        args,
        context: Map::new(),
        content: None,
        source: None,
        idempotency_key: None,
        approval_id: None,
        trace: None,
    }
}

/// The `pre_tool_call` for a call: the tool by its exposed name, the
/// client's arguments, and what the server (never the client) says about
/// the tool as context.
pub(crate) fn pre_request(
    caller: &Caller,
    entry: &Entry,
    upstream: &str,
    args: Map<String, Value>,
) -> Request {
    let annotations = entry
        .tool
        .annotations
        .as_ref()
        .and_then(|a| serde_json::to_value(a).ok())
        .unwrap_or(Value::Null);
    let mut request = bare_request(caller, &entry.exposed, args);
    request.context.insert(
        "mcp".into(),
        json!({"server": upstream, "tool": entry.original, "annotations": annotations}),
    );
    request
}

/// Constraints the upstream cannot honour, by name.
fn unhonoured(c: &Constraints, honours: &[String], entry: &Entry) -> Vec<&'static str> {
    let has = |name: &str| honours.iter().any(|h| h == name);
    let read_only_tool = entry
        .tool
        .annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        == Some(true);
    let mut out = Vec::new();
    if c.read_only && !(has("read_only") || read_only_tool) {
        out.push("read_only");
    }
    if c.max_rows.is_some() && !has("max_rows") {
        out.push("max_rows");
    }
    out
}

/// Waits up to `wait` for an approval to leave `pending`, or for the
/// client to cancel. `true` when it was approved.
async fn wait_for_approval(
    shared: &Shared,
    id: &str,
    wait: Duration,
    cancelled: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let state = Arc::clone(shared.engine.state());
        let key = id.to_owned();
        let found = tokio::task::spawn_blocking(move || state.approval(&key)).await;
        match found {
            Ok(Ok(Some(a))) if a.status == ApprovalStatus::Approved => return true,
            Ok(Ok(Some(a))) if a.status == ApprovalStatus::Pending => {}
            _ => return false,
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100).min(wait)) => {}
            _ = &mut *cancelled => return false,
        }
    }
}

/// Handles one `tools/call`.
pub(crate) async fn call_tool(
    shared: &Arc<Shared>,
    caller: &Caller,
    approvals: &Pending,
    params: CallToolRequestParams,
    mut cancelled: impl std::future::Future<Output = ()> + Unpin + Send,
) -> Result<CallToolResult, ErrorData> {
    let deny_as = shared.config.deny_as;
    let name = params.name.to_string();
    let mut catalog = shared.catalog();
    // A server that went away (a crashed child) is started again and its
    // tools checked against their pins before any call reaches it.
    if let Some(i) = catalog.get(&name).map(|e| e.upstream) {
        if let Some(link) = shared.links.get(i) {
            if !link.connected().await {
                shared.refresh(i).await;
                catalog = shared.catalog();
            }
        }
    }
    let args = params.arguments.clone().unwrap_or_default();
    let Some(entry) = catalog.get(&name).cloned() else {
        let why = format!("no upstream server offers a tool named `{name}`");
        let request = bare_request(caller, &name, args);
        return refuse(shared, caller, request, ReasonCode::UnknownTool, why).await;
    };
    let Some(link) = shared.links.get(entry.upstream) else {
        let why = "the tool's upstream is gone".to_owned();
        let request = bare_request(caller, &name, args);
        return refuse(shared, caller, request, ReasonCode::InternalError, why).await;
    };
    let mut request = pre_request(caller, &entry, &link.spec.name, args);
    if !entry.enabled {
        let why = format!(
            "the contract of `{name}` (server `{}`, tool `{}`) changed since it was pinned; \
             it is disabled until an operator re-approves it",
            link.spec.name, entry.original
        );
        return refuse(shared, caller, request, ReasonCode::UnknownTool, why).await;
    }
    let digest = match Digest::of_request(&request) {
        Ok(d) => d.to_string(),
        Err(e) => {
            let why = format!(
                "the arguments have no canonical form, so no decision can be bound to them \
                 (they are not recorded): {e}"
            );
            return refuse(shared, caller, request, ReasonCode::SchemaViolation, why).await;
        }
    };
    request.approval_id = approvals.get(&digest);
    let mut waited = false;
    let (decided, decision) = loop {
        let decided = shared
            .engine
            .decide(&caller.creds, request.clone())
            .await
            .map_err(auth_error)?;
        for alert in &decided.alerts {
            eprintln!("ward: alert: {alert}");
        }
        let d = decided.decision.clone();
        match d.outcome {
            Outcome::Allow | Outcome::AllowWithConstraints | Outcome::Remediate => {
                approvals.forget(&digest);
                break (decided, d);
            }
            Outcome::RequireApproval => {
                let Some(ticket) = d.approval.clone() else {
                    return render(deny_as, denied(&name, &d));
                };
                approvals.put(digest.clone(), ticket.id.clone());
                let wait = shared.config.approval_wait;
                if !waited
                    && !wait.is_zero()
                    && wait_for_approval(shared, &ticket.id, wait, &mut cancelled).await
                {
                    waited = true;
                    request.approval_id = Some(ticket.id);
                    continue;
                }
                return render(deny_as, pending(&name, &d, &ticket));
            }
            Outcome::Deny => {
                let code = d.reasons.first().map(|r| r.code);
                if code == Some(ReasonCode::ApprovalPending) {
                    if let Some(id) = request.approval_id.clone() {
                        let wait = shared.config.approval_wait;
                        if !waited
                            && !wait.is_zero()
                            && wait_for_approval(shared, &id, wait, &mut cancelled).await
                        {
                            waited = true;
                            continue;
                        }
                        let ticket = ApprovalTicket {
                            id,
                            expires_at: String::from("(see the approval)"),
                            approvers: Vec::new(),
                            quorum: 1,
                        };
                        return render(DenyAs::Result, pending(&name, &d, &ticket));
                    }
                }
                if matches!(
                    code,
                    Some(
                        ReasonCode::ApprovalRejected
                            | ReasonCode::ApprovalExpired
                            | ReasonCode::ApprovalMismatch
                            | ReasonCode::ApprovalPolicyChanged
                            | ReasonCode::ApprovalUsed
                    )
                ) {
                    approvals.forget(&digest);
                }
                return render(deny_as, denied(&name, &d));
            }
        }
    };
    let mut limit = link.spec.timeout;
    let mut meta = params.meta.clone().map(|m| m.0 .0).unwrap_or_default();
    meta.retain(|k, _| !k.starts_with("ward.dev/"));
    if decision.outcome == Outcome::AllowWithConstraints {
        let constraints = decision.constraints.clone().unwrap_or_default();
        let missing = unhonoured(&constraints, &link.spec.honours, &entry);
        if !missing.is_empty() {
            eprintln!(
                "ward: mcp: {} allowed `{name}` with constraints `{}` cannot honour; not dispatched",
                decision.decision_id, link.spec.name
            );
            let why = format!(
                "server `{}` cannot honour the constraint(s) {} that decision {} puts on \
                 this call; it was not dispatched",
                link.spec.name,
                missing.join(", "),
                decision.decision_id
            );
            return refuse(shared, caller, decided.request, ReasonCode::Rule, why).await;
        }
        if let Some(ms) = constraints.timeout_ms {
            limit = limit.min(Duration::from_millis(ms));
        }
        meta.insert(META_CONSTRAINTS.into(), json!(constraints));
    }
    meta.insert("ward.dev/decision_id".into(), json!(decision.decision_id));
    let args = match (&decision.outcome, &decision.rewritten_args) {
        (Outcome::Remediate, Some(rewritten)) => rewritten.clone(),
        _ => request.args.clone(),
    };
    let mut upstream_params = CallToolRequestParams::new(entry.original.clone());
    upstream_params.arguments = Some(args);
    upstream_params.meta = Some(rmcp::model::MetaObject(meta).into());
    let job = Dispatch {
        shared: Arc::clone(shared),
        caller: caller.clone(),
        tool: name,
        decided_request: decided.request,
        decision,
        upstream: entry.upstream,
        params: upstream_params,
        limit,
    };
    // Its own task: a client that disconnects does not stop the record.
    tokio::spawn(job.run())
        .await
        .map_err(|e| ErrorData::internal_error(format!("the call's task failed: {e}"), None))?
}

struct Dispatch {
    shared: Arc<Shared>,
    caller: Caller,
    tool: String,
    decided_request: Request,
    decision: Decision,
    upstream: usize,
    params: CallToolRequestParams,
    limit: Duration,
}

impl Dispatch {
    async fn run(self) -> Result<CallToolResult, ErrorData> {
        let shared = &self.shared;
        let deny_as = shared.config.deny_as;
        let Some(link) = shared.links.get(self.upstream) else {
            return Err(ErrorData::internal_error(
                "the tool's upstream is gone",
                None,
            ));
        };
        let started = Instant::now();
        let outcome = link.call(self.params.clone(), self.limit).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = match outcome {
            Ok(result) => result,
            Err(e) => {
                let code = match e {
                    UpstreamError::Timeout(..) => ReasonCode::Timeout,
                    _ => ReasonCode::InternalError,
                };
                let execution = Execution {
                    decision_id: self.decision.decision_id.clone(),
                    status: ExecutionStatus::Error,
                    duration_ms,
                };
                self.report(&execution, &json!({"error": e.to_string()}))
                    .await;
                eprintln!(
                    "ward: mcp: {} `{}`: {e}",
                    self.decision.decision_id, self.tool
                );
                let mut failed = self.decision.clone();
                failed.outcome = Outcome::Deny;
                failed.reasons = vec![reason(
                    code,
                    format!("the call was permitted but failed: {e}"),
                )];
                let mut r = denied(&self.tool, &failed);
                r.text = format!(
                    "Ward permitted this call to `{}` (decision {}), but it failed: {e} ({}).",
                    self.tool,
                    self.decision.decision_id,
                    code.as_str()
                );
                return render(deny_as, r);
            }
        };
        let status = if result.is_error == Some(true) {
            ExecutionStatus::Error
        } else {
            ExecutionStatus::Ok
        };
        let execution = Execution {
            decision_id: self.decision.decision_id.clone(),
            status,
            duration_ms,
        };
        let (text, shape) = results::scanned_text(&result);
        let post = Request {
            intervention: Intervention::PostToolCall,
            actor: self.caller.actor.clone(),
            tool: Some(self.tool.clone()),
            action: None,
            target: None,
            args: Map::new(),
            context: Map::new(),
            content: Some(text),
            source: Some(ContentSource {
                kind: "tool".into(),
                tool: Some(self.tool.clone()),
                uri: None,
                trust: None,
            }),
            idempotency_key: None,
            approval_id: None,
            trace: None,
        };
        let result_json = serde_json::to_value(&result).unwrap_or(Value::Null);
        // The result's decision and what ran share one commit (one wait).
        let scanned = shared
            .engine
            .decide_with_execution(
                &self.caller.creds,
                post,
                &self.decided_request,
                &execution,
                &result_json,
            )
            .await
            .map_err(auth_error)?;
        if let Some(Err(e)) = &scanned.execution {
            self.unrecorded(&execution, e);
        }
        let d = scanned.decision;
        let withheld = |why: String| {
            let mut r = refusal_of(&d, why);
            r.outcome = Outcome::Deny;
            r
        };
        let mut out = match d.outcome {
            Outcome::Allow | Outcome::AllowWithConstraints => result,
            Outcome::Remediate => {
                let redacted = d
                    .rewritten_args
                    .as_ref()
                    .and_then(|a| a.get("content"))
                    .and_then(Value::as_str);
                match redacted.map(|t| results::with_redaction(&result, &shape, t)) {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        let text = format!(
                            "Ward withheld the result of `{}` (decision {}): it had to be redacted, and {e}. The call ran.",
                            self.tool, d.decision_id
                        );
                        return render(DenyAs::Result, withheld(text));
                    }
                    None => {
                        let text = format!(
                            "Ward withheld the result of `{}` (decision {}): no redacted text came back. The call ran.",
                            self.tool, d.decision_id
                        );
                        return render(DenyAs::Result, withheld(text));
                    }
                }
            }
            Outcome::Deny | Outcome::RequireApproval => {
                let text = format!(
                    "Ward withheld the result of `{}`; the call ran (decision {}), but its result was quarantined. Decision {}: {}.",
                    self.tool,
                    self.decision.decision_id,
                    d.decision_id,
                    summary(&d.reasons)
                );
                return render(DenyAs::Result, withheld(text));
            }
        };
        let mut meta = out.meta.take().unwrap_or_default();
        meta.insert(
            META_DECISION.into(),
            json!({
                "decision_id": self.decision.decision_id,
                "outcome": self.decision.outcome.as_str(),
                "result_decision_id": d.decision_id,
                "result_outcome": d.outcome.as_str(),
            }),
        );
        out.meta = Some(meta);
        Ok(out)
    }

    /// Records what ran; a failure to record is alerted, and the answer
    /// (already scanned) still goes out, since the call did run.
    async fn report(&self, execution: &Execution, result: &Value) {
        if let Err(e) = self
            .shared
            .engine
            .report_execution(&self.decided_request, execution, result)
            .await
        {
            self.unrecorded(execution, &e);
        }
    }

    fn unrecorded(&self, execution: &Execution, e: &dyn std::fmt::Display) {
        eprintln!(
            "ward: alert: the execution of {} (`{}`) could not be recorded: {e}",
            execution.decision_id, self.tool
        );
    }
}
