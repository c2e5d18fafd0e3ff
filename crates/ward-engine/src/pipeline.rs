//! The decision pipeline, in ARCHITECTURE §4's order:
//!
//! authenticate → kill switch / circuit → registry → idempotency → schema,
//! scan, provenance and policy → approval binding → limits → shadow and
//! break-glass → receipt → respond.
//!
//! Every stage that stops a request gives a deny with its own reason code,
//! and every failure (the store, the audit log, the clock budget) is a deny.
//! A permit leaves only with a durable receipt.

use std::time::{Duration, Instant};

use ward_core::{
    CanonicalError, Decision, Digest, Intervention, Mode, Outcome, Reason, ReasonCode, Request,
};
use ward_policy::{Evaluation, Facts};
use ward_scan::RedactMode;

use crate::approvals::{ApprovalRecord, ApprovalStatus};
use crate::breaker::Admit;
use crate::engine::{blocking, ActiveBundle, Engine};
use crate::gather::{self, Stop};
use crate::identity::{bind_actor, AuthError, Credentials};
use crate::state::{IdemClaim, LimitTake};
use crate::switches::SwitchKind;

mod receipt;
use crate::Execution;
use ward_audit::Entry;

/// A pipeline stage, for latency metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Credentials and actor binding.
    Authenticate,
    /// Kill switches, circuit breakers and the registry.
    Admission,
    /// Idempotency claim.
    Idempotency,
    /// Schema, scanning, provenance and policy evaluation.
    Evaluate,
    /// Approval binding and limit counters.
    State,
    /// The audit log append.
    Receipt,
}

impl Stage {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Authenticate => "authenticate",
            Stage::Admission => "admission",
            Stage::Idempotency => "idempotency",
            Stage::Evaluate => "evaluate",
            Stage::State => "state",
            Stage::Receipt => "receipt",
        }
    }
}

/// A decision and what happened on the way.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The decision, with its receipt when the log took it.
    pub decision: Decision,
    /// The request as decided (the actor bound to the credentials).
    pub request: Request,
    /// This is the stored answer to an idempotency key seen before.
    pub replayed: bool,
    /// Time spent per stage.
    pub stages: Vec<(Stage, Duration)>,
    /// Events an operator must hear about (break-glass use).
    pub alerts: Vec<String>,
    /// For [`Engine::decide_with_execution`]: whether what ran was recorded
    /// (or why not). `None` for a plain decision.
    pub execution: Option<Result<(), String>>,
}

struct Run {
    stages: Vec<(Stage, Duration)>,
    mark: Instant,
    alerts: Vec<String>,
    /// The idempotency key this call claimed, if it did.
    claimed: Option<String>,
    /// An execution entry to append with the decision's own (taken by the
    /// receipt stage, or appended alone if no receipt stage ran).
    extra: Option<Entry>,
    /// What became of `extra`.
    execution: Option<Result<(), String>>,
    /// The approval a `require_approval` opens, being stored while the
    /// receipt is written: the two durable writes go to different files,
    /// so the call waits for the slower, not for both in turn. The receipt
    /// stage waits for it before the answer leaves.
    approval_write: Option<tokio::task::JoinHandle<Result<(), crate::state::StateError>>>,
    /// `Digest::of_request` of the request as bound to its credentials,
    /// computed once: the policy's ids, the receipt's entry, the
    /// idempotency claim and the approval binding all use it.
    digest: Result<Digest, CanonicalError>,
}

impl Run {
    /// A run of `request` (its actor already bound) whose authentication
    /// took `authenticate`.
    fn new(request: &Request, authenticate: Duration, extra: Option<Entry>) -> Run {
        Run {
            digest: Digest::of_request(request),
            stages: vec![(Stage::Authenticate, authenticate)],
            mark: Instant::now(),
            alerts: Vec::new(),
            claimed: None,
            extra,
            execution: None,
            approval_write: None,
        }
    }

    fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        self.stages.push((stage, now - self.mark));
        self.mark = now;
    }
}

/// A deny made by an engine stage, built like the policy's decisions:
/// deterministic ids, the active policy when there is one.
pub(crate) fn stage_deny(
    bundle: Option<&ActiveBundle>,
    request: &Request,
    (code, message): Stop,
    now: i64,
) -> Decision {
    let evaluation = Evaluation::deny(code, message);
    match bundle {
        Some(b) => {
            let mut d = ward_policy::to_decision(evaluation, &b.compiled, request, now);
            // A stage deny is enforced whatever the bundle's shadow setting.
            d.mode = Mode::Enforce;
            d.reasons.retain(|r| r.code != ReasonCode::Shadow);
            d
        }
        None => {
            let digest = Digest::of_request(request).map_or_else(|_| "-".into(), |d| d.to_string());
            Decision {
                decision_id: derived_id("dec", &format!("decision\n{digest}\n-\n{now}")),
                outcome: Outcome::Deny,
                reasons: evaluation.reasons,
                policy: None,
                constraints: None,
                rewritten_args: None,
                approval: None,
                mode: Mode::Enforce,
                receipt: None,
            }
        }
    }
}

/// `PREFIX_` and the first 26 hex digits of the SHA-256 of `seed`: the
/// deterministic ids of decisions made outside the policy.
pub(crate) fn derived_id(prefix: &str, seed: &str) -> String {
    let digest = Digest::of_bytes(seed.as_bytes());
    format!("{prefix}_{}", digest.hex().get(..26).unwrap_or_default())
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> Stop {
    (ReasonCode::InternalError, format!("{what}: {e}"))
}

impl Engine {
    /// Decides one request. Authentication failures are errors (HTTP 401 or
    /// 403); everything after that is a [`Decision`], and every failure is a
    /// deny with its reason code.
    pub async fn decide(
        &self,
        creds: &Credentials,
        request: Request,
    ) -> Result<Decided, AuthError> {
        self.decide_and_record(creds, request, None).await
    }

    /// Decides a `post_tool_call` and records what ran (the entry of
    /// [`Engine::report_execution`], and the tool's circuit breaker) in the
    /// same commit as the decision's entry: the two share one durable
    /// flush, where reporting and then deciding would wait for two. What
    /// ran is recorded whatever the decision, and also when the credential
    /// fails; [`Decided::execution`] says whether it was.
    pub async fn decide_with_execution(
        &self,
        creds: &Credentials,
        request: Request,
        ran: &Request,
        execution: &Execution,
        result: &serde_json::Value,
    ) -> Result<Decided, AuthError> {
        match self.execution_entry(ran, execution, result) {
            Ok(entry) => self.decide_and_record(creds, request, Some(entry)).await,
            Err(e) => {
                let mut decided = self.decide(creds, request).await?;
                decided.execution = Some(Err(e.to_string()));
                Ok(decided)
            }
        }
    }

    async fn decide_and_record(
        &self,
        creds: &Credentials,
        mut request: Request,
        extra: Option<Entry>,
    ) -> Result<Decided, AuthError> {
        let start = Instant::now();
        let bound = self
            .authenticate(creds)
            .and_then(|identity| bind_actor(&identity, &request.actor));
        let actor = match bound {
            Ok(actor) => actor,
            Err(e) => {
                if let Some(entry) = extra {
                    if let Err(failed) = self.inner.audit.append(entry).await {
                        eprintln!("ward: alert: an execution could not be recorded: {failed}");
                    }
                }
                return Err(e);
            }
        };
        request.actor = actor;
        let mut run = Run::new(&request, start.elapsed(), extra);
        let budget = self.inner.config.decision_budget;
        let work = self.run(&request, &mut run);
        let result = tokio::time::timeout(budget, work).await;
        let (decision, replayed) = match result {
            Ok(done) => done,
            Err(_) => {
                // Only a claim this call made is released (a call that found
                // another's claim in flight must not free it). Best effort,
                // in the background: let a retry with the key decide afresh.
                if let Some(key) = run.claimed.take() {
                    let tenant = request.actor.tenant.clone();
                    let state = std::sync::Arc::clone(&self.inner.state);
                    drop(tokio::task::spawn_blocking(move || {
                        state.idem_release(&tenant, &key)
                    }));
                }
                // An approval still being stored is left to finish: the
                // call is denied whatever becomes of it.
                run.approval_write = None;
                let now = self.now_ms().div_euclid(1000);
                let bundle = self.active_bundle();
                let stop = (
                    ReasonCode::Timeout,
                    format!("the decision ran past its {} ms budget", budget.as_millis()),
                );
                let deny = stage_deny(bundle.as_deref(), &request, stop, now);
                // The deny the caller gets is itself logged, within one more
                // budget. If the abandoned decision's entry landed too, the
                // log holds it followed by this deny, which is the answer.
                let logged =
                    self.receipt(bundle.as_deref(), &request, deny.clone(), None, &mut run);
                match tokio::time::timeout(budget, logged).await {
                    Ok(d) => (d, false),
                    Err(_) => (deny, false),
                }
            }
        };
        // A path with no receipt stage (an idempotent replay, a decision
        // with no entry) still records what ran.
        if let Some(entry) = run.extra.take() {
            let appended = self.inner.audit.append(entry).await;
            run.execution = Some(appended.map(drop).map_err(|e| e.to_string()));
        }
        Ok(Decided {
            decision,
            request,
            replayed,
            stages: run.stages,
            alerts: run.alerts,
            execution: run.execution,
        })
    }

    async fn run(&self, request: &Request, run: &mut Run) -> (Decision, bool) {
        let now_ms = self.now_ms();
        let now = now_ms.div_euclid(1000);
        let bundle = self.active_bundle();
        let admitted = self.admit(request, bundle.as_deref(), now_ms);
        run.lap(Stage::Admission);
        let b = match admitted {
            Ok(b) => b,
            Err(stop) => {
                let d = stage_deny(bundle.as_deref(), request, stop, now);
                return (
                    self.receipt(bundle.as_deref(), request, d, None, run).await,
                    false,
                );
            }
        };
        let mut claimed = None;
        if let Some(key) = &request.idempotency_key {
            match self.claim(request, &run.digest, key, now_ms).await {
                Ok(Claim::Claimed) => {
                    claimed = Some(key.clone());
                    run.claimed = Some(key.clone());
                }
                Ok(Claim::Replay(decision)) => {
                    run.lap(Stage::Idempotency);
                    return (*decision, true);
                }
                Err(stop) => {
                    run.lap(Stage::Idempotency);
                    let d = stage_deny(Some(b), request, stop, now);
                    return (self.receipt(Some(b), request, d, None, run).await, false);
                }
            }
            run.lap(Stage::Idempotency);
        }
        let decision = match self
            .evaluate(b, request, run.digest.as_ref().ok(), now)
            .await
        {
            Ok(d) => d,
            Err(stop) => stage_deny(Some(b), request, stop, now),
        };
        run.lap(Stage::Evaluate);
        let decision = match self.bind_state(b, request, decision, now_ms, run).await {
            Ok(d) => d,
            Err(stop) => stage_deny(Some(b), request, stop, now),
        };
        run.lap(Stage::State);
        (
            self.receipt(Some(b), request, decision, claimed, run).await,
            false,
        )
    }

    /// Kill switches, the circuit breaker and the registry.
    fn admit<'b>(
        &self,
        request: &Request,
        bundle: Option<&'b ActiveBundle>,
        now_ms: i64,
    ) -> Result<&'b ActiveBundle, Stop> {
        let cache = self.cache();
        let stale = now_ms.saturating_sub(cache.refreshed_ms);
        let limit = i64::try_from(self.inner.config.stale_after.as_millis()).unwrap_or(i64::MAX);
        if stale > limit {
            return Err((
                ReasonCode::PolicyUnavailable,
                format!("the state store has not been readable for {stale} ms"),
            ));
        }
        let Some(bundle) = bundle else {
            return Err((
                ReasonCode::PolicyUnavailable,
                "no policy bundle is active".into(),
            ));
        };
        let actor = &request.actor;
        let tool = request.tool.as_deref();
        let capability = tool
            .and_then(|t| bundle.compiled.tool(t))
            .map(|t| t.capability.as_str());
        if let Some(k) = cache.switches.iter().find(|s| {
            s.kind == SwitchKind::Kill
                && s.scope
                    .covers(&actor.tenant, &actor.agent.id, tool, capability)
        }) {
            return Err((
                ReasonCode::KillSwitch,
                format!(
                    "kill switch `{}` set by {}: {}",
                    k.scope.label(),
                    k.by,
                    k.reason
                ),
            ));
        }
        if let (Intervention::PreToolCall, Some(tool)) = (request.intervention, tool) {
            let admit = self
                .inner
                .breakers
                .lock()
                .map_err(|_| internal("circuit breakers", "lock poisoned"))?
                .admit(tool, now_ms);
            if let Admit::Open(until) = admit {
                return Err((
                    ReasonCode::CircuitOpen,
                    format!(
                        "the circuit breaker of `{tool}` is open until {}",
                        ward_policy::rfc3339(until.div_euclid(1000))
                    ),
                ));
            }
        }
        let key = (actor.agent.id.clone(), actor.agent.version.clone());
        let agent = cache.agents.get(&key).filter(|a| a.active).ok_or_else(|| {
            (
                ReasonCode::UnknownAgent,
                format!(
                    "agent `{}` version `{}` is not registered and active",
                    actor.agent.id, actor.agent.version
                ),
            )
        })?;
        if let (Intervention::PreToolCall, Some(tool)) = (request.intervention, tool) {
            if !agent.allows_tool(tool) {
                return Err((
                    ReasonCode::UnknownTool,
                    format!(
                        "`{tool}` is not among the tools registered for agent `{}`",
                        agent.id
                    ),
                ));
            }
        }
        Ok(bundle)
    }

    async fn claim(
        &self,
        request: &Request,
        digest: &Result<Digest, CanonicalError>,
        key: &str,
        now_ms: i64,
    ) -> Result<Claim, Stop> {
        let digest = digest
            .as_ref()
            .map_err(|e| {
                (
                    ReasonCode::SchemaViolation,
                    format!("request has no canonical form: {e}"),
                )
            })?
            .to_string();
        let ttl = i64::try_from(self.inner.config.idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
        let (tenant, key2, digest2) =
            (request.actor.tenant.clone(), key.to_owned(), digest.clone());
        let claim = blocking(&self.inner.state, move |s| {
            s.idem_claim(&tenant, &key2, &digest2, now_ms, now_ms.saturating_sub(ttl))
        })
        .await
        .map_err(|e| internal("idempotency store", e))?;
        match claim {
            IdemClaim::Claimed => Ok(Claim::Claimed),
            IdemClaim::Seen { request_digest, .. } if request_digest != digest => Err((
                ReasonCode::IdempotentReplay,
                format!("idempotency key `{key}` was used for a different request"),
            )),
            IdemClaim::Seen { decision: None, .. } => Err((
                ReasonCode::IdempotentReplay,
                format!("the first request with idempotency key `{key}` is still being decided"),
            )),
            IdemClaim::Seen {
                decision: Some(json),
                ..
            } => serde_json::from_str(&json)
                .map(|d| Claim::Replay(Box::new(d)))
                .map_err(|e| internal("stored idempotent decision", e)),
        }
    }

    /// Scan, provenance and policy.
    async fn evaluate(
        &self,
        b: &ActiveBundle,
        request: &Request,
        digest: Option<&Digest>,
        now: i64,
    ) -> Result<Decision, Stop> {
        let (scan, raw) = gather::scan(&self.inner.scanners, b.compiled.scanners(), request)?;
        let provenance = if request.intervention == Intervention::PreToolCall {
            let index = self
                .inner
                .provenance
                .lock()
                .map_err(|_| internal("provenance index", "lock poisoned"))?;
            gather::provenance(&index, request, now)
        } else {
            Default::default()
        };
        let mut limits = std::collections::BTreeMap::new();
        for limit in gather::limits_in_scope(&b.compiled, request) {
            let key = gather::limit_key(limit, request);
            let start = gather::window_start(limit, now);
            let used = blocking(&self.inner.state, move |s| s.limit_used(&key, start))
                .await
                .map_err(|e| internal("limit counters", e))?;
            limits.insert(
                limit.id.clone(),
                ward_policy::LimitState {
                    used,
                    limit: limit.max,
                },
            );
        }
        let facts = Facts {
            now,
            scan,
            provenance,
            limits,
        };
        // With no digest, `decide` denies the request for having no
        // canonical form.
        let mut decision = match digest {
            Some(d) => ward_policy::decide_digested(&b.compiled, request, *d, &facts),
            None => ward_policy::decide(&b.compiled, request, &facts),
        };
        if let Some(content) = &request.content {
            if decision.outcome == Outcome::Remediate {
                let redacted = ward_scan::redact(content, &raw, RedactMode::Mask);
                decision.rewritten_args = Some(
                    [("content".to_owned(), serde_json::Value::String(redacted))]
                        .into_iter()
                        .collect(),
                );
            }
            self.record_content(b, request, &decision, now)?;
        }
        Ok(decision)
    }

    /// Approval binding, limits, shadow and break-glass.
    async fn bind_state(
        &self,
        b: &ActiveBundle,
        request: &Request,
        mut decision: Decision,
        now_ms: i64,
        run: &mut Run,
    ) -> Result<Decision, Stop> {
        let now = now_ms.div_euclid(1000);
        let mut granted = None;
        if let Some(id) = request.approval_id.clone() {
            let found = blocking(&self.inner.state, move |s| s.approval(&id))
                .await
                .map_err(|e| internal("approval store", e))?;
            let approval = found.ok_or_else(|| {
                (
                    ReasonCode::ApprovalMismatch,
                    format!(
                        "no approval `{}`",
                        request.approval_id.as_deref().unwrap_or_default()
                    ),
                )
            })?;
            let digest = run
                .digest
                .as_ref()
                .map_err(|e| internal("request digest", e))?
                .to_string();
            approval.admits(&request.actor.tenant, &digest, &b.record.digest, now_ms)?;
            if decision.outcome == Outcome::RequireApproval {
                decision.outcome = Outcome::Allow;
                decision.approval = None;
                granted = Some(approval);
            }
        }
        let shadow = decision.mode == Mode::Shadow || self.shadowed(b, request);
        if decision.outcome.permits() && !shadow {
            self.take_limits(b, request, now).await?;
        }
        // An approval lets one call through: the call it admitted uses it up,
        // atomically, so two retries racing with one approval get one permit.
        if let Some(approval) = granted.filter(|_| !shadow) {
            let used = approval.used(&decision.decision_id);
            let id = approval.id.clone();
            let swapped = blocking(&self.inner.state, move |s| {
                s.update_approval(&approval, &used)
            })
            .await
            .map_err(|e| internal("approval store", e))?;
            if !swapped {
                return Err((
                    ReasonCode::ApprovalUsed,
                    format!("approval {id} was used by another call at the same moment"),
                ));
            }
        }
        if shadow {
            let would = decision.outcome;
            decision.reasons.retain(|r| r.code != ReasonCode::Shadow);
            decision.reasons.push(Reason {
                code: ReasonCode::Shadow,
                rule: None,
                message: format!(
                    "shadow mode: recorded, not enforced; the outcome would have been `{}`",
                    would.as_str()
                ),
            });
            decision.mode = Mode::Shadow;
            decision.outcome = Outcome::Allow;
            decision.approval = None;
            decision.rewritten_args = None;
            decision.constraints = None;
        } else if matches!(decision.outcome, Outcome::Deny | Outcome::RequireApproval) {
            if let Some(grant) = self.break_glass_for(b, request, now_ms) {
                let would = decision.outcome;
                decision.reasons.push(Reason {
                    code: ReasonCode::BreakGlass,
                    rule: None,
                    message: format!(
                        "break-glass {} by {} ({}) overrode `{}`; it expires {}",
                        grant.id,
                        grant.operator,
                        grant.reason,
                        would.as_str(),
                        ward_policy::rfc3339(grant.expires_ms.div_euclid(1000))
                    ),
                });
                decision.mode = Mode::Override;
                decision.outcome = Outcome::Allow;
                decision.approval = None;
                run.alerts.push(format!(
                    "break-glass {} used by {} for {} in tenant {}",
                    grant.id,
                    grant.operator,
                    request.tool.as_deref().unwrap_or("-"),
                    request.actor.tenant
                ));
            }
        }
        if let (Outcome::RequireApproval, Some(ticket)) = (decision.outcome, &decision.approval) {
            let request_digest = run
                .digest
                .as_ref()
                .map_err(|e| internal("request digest", e))?
                .to_string();
            // Asking again while the same call waits finds the approval
            // already open for it (pending, or granted and not yet used),
            // instead of opening another. A call whose approval was rejected
            // stays refused until that approval would have expired: asking
            // again, whichever second it is, does not put it to the
            // approvers again.
            let (tenant, digest, policy) = (
                request.actor.tenant.clone(),
                request_digest.clone(),
                b.record.digest.clone(),
            );
            let mine = blocking(&self.inner.state, move |s| {
                let (mut open, mut rejected) = (None, None);
                for a in s.approvals_for_call(&tenant, &digest)? {
                    if a.policy_digest != policy || a.expires_ms <= now_ms {
                        continue;
                    }
                    match a.status {
                        ApprovalStatus::Pending | ApprovalStatus::Approved => {
                            open.get_or_insert(a);
                        }
                        ApprovalStatus::Rejected => {
                            rejected.get_or_insert(a);
                        }
                        ApprovalStatus::Used => {}
                    }
                }
                // An open one first.
                Ok(open.or(rejected))
            })
            .await
            .map_err(|e| internal("approval store", e))?;
            if let Some(rejected) = mine
                .as_ref()
                .filter(|a| a.status == ApprovalStatus::Rejected)
            {
                return Err((
                    ReasonCode::ApprovalRejected,
                    format!(
                        "approval {} for this call was rejected; the same call is refused until {}",
                        rejected.id,
                        ward_policy::rfc3339(rejected.expires_ms.div_euclid(1000))
                    ),
                ));
            }
            if let Some(open) = mine {
                if let Some(t) = decision.approval.as_mut() {
                    t.id = open.id;
                    t.expires_at = ward_policy::rfc3339(open.expires_ms.div_euclid(1000));
                }
                return Ok(decision);
            }
            let record = ApprovalRecord {
                id: ticket.id.clone(),
                tenant: request.actor.tenant.clone(),
                decision_id: decision.decision_id.clone(),
                request_digest,
                policy_digest: b.record.digest.clone(),
                tool: request.tool.clone(),
                args: request.args.clone(),
                message: decision
                    .reasons
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                requester: request.actor.principal.id.clone(),
                approvers: ticket.approvers.clone(),
                quorum: ticket.quorum,
                created_ms: now_ms,
                expires_ms: expiry_ms(&ticket.expires_at).unwrap_or(now_ms),
                status: ApprovalStatus::Pending,
                votes: Vec::new(),
                used_by: None,
            };
            let state = std::sync::Arc::clone(&self.inner.state);
            run.approval_write = Some(tokio::task::spawn_blocking(move || {
                state.create_approval(&record)
            }));
        }
        Ok(decision)
    }

    fn shadowed(&self, b: &ActiveBundle, request: &Request) -> bool {
        let actor = &request.actor;
        let tool = request.tool.as_deref();
        let capability = tool
            .and_then(|t| b.compiled.tool(t))
            .map(|t| t.capability.as_str());
        self.cache().switches.iter().any(|s| {
            s.kind == SwitchKind::Shadow
                && s.scope
                    .covers(&actor.tenant, &actor.agent.id, tool, capability)
        })
    }

    fn break_glass_for(
        &self,
        b: &ActiveBundle,
        request: &Request,
        now_ms: i64,
    ) -> Option<crate::switches::BreakGlass> {
        let actor = &request.actor;
        let tool = request.tool.as_deref();
        let capability = tool
            .and_then(|t| b.compiled.tool(t))
            .map(|t| t.capability.as_str());
        self.cache()
            .break_glass
            .iter()
            .find(|g| {
                g.expires_ms > now_ms
                    && g.scope
                        .covers(&actor.tenant, &actor.agent.id, tool, capability)
            })
            .cloned()
    }

    async fn take_limits(&self, b: &ActiveBundle, request: &Request, now: i64) -> Result<(), Stop> {
        for limit in gather::limits_in_scope(&b.compiled, request) {
            let Some(amount) = gather::limit_amount(limit, &request.args) else {
                return Err((
                    ReasonCode::SchemaViolation,
                    format!(
                        "limit `{}` sums `{}`, which is missing or not a non-negative number",
                        limit.id,
                        limit.sum_arg.as_deref().unwrap_or_default()
                    ),
                ));
            };
            let key = gather::limit_key(limit, request);
            let start = gather::window_start(limit, now);
            let max = limit.max;
            let taken = blocking(&self.inner.state, move |s| {
                s.limit_take(&key, start, amount, max)
            })
            .await
            .map_err(|e| internal("limit counters", e))?;
            if let LimitTake::Refused { used } = taken {
                let (code, what) = if limit.sum_arg.is_some() {
                    (ReasonCode::BudgetExceeded, "budget")
                } else {
                    (ReasonCode::RateLimited, "rate limit")
                };
                return Err((
                    code,
                    format!(
                        "{what} `{}` is used up: {used} of {} in the current {} s window",
                        limit.id, limit.max, limit.window_secs
                    ),
                ));
            }
        }
        Ok(())
    }
}

enum Claim {
    Claimed,
    Replay(Box<Decision>),
}

/// Unix milliseconds of an approval ticket's `expires_at`: RFC 3339 in whole
/// seconds (`...:SSZ`, as the policy writes it) or with milliseconds.
fn expiry_ms(text: &str) -> Option<i64> {
    let text = match text.strip_suffix('Z') {
        Some(secs) if text.len() == 20 => format!("{secs}.000Z"),
        _ => text.to_owned(),
    };
    let time = text.parse::<ward_audit::Timestamp>().ok()?;
    i64::try_from(time.unix_millis()).ok()
}
