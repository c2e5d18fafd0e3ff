//! Operations besides deciding: the registry, switches, break-glass, API
//! keys, approvals and post-call reports. Each checks the caller's roles;
//! each write reaches the store before it returns, and this node's cache is
//! refreshed at once (other nodes follow within their refresh interval).

use serde::{Deserialize, Serialize};
use ward_audit::{Entry, ExecutionStatus, Timestamp, Verdict};
use ward_core::{Digest, Request};

use crate::approvals::{ApprovalRecord, VoteError};
use crate::engine::{blocking, Engine, EngineError};
use crate::identity::{
    new_api_key, ApiKeyRecord, AuthError, Identity, NewApiKey, ROLE_ADMIN, ROLE_BREAK_GLASS,
};
use crate::registry::AgentRecord;
use crate::switches::{BreakGlass, Scope, Switch, SwitchKind};

/// A post-call report: what actually ran for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    /// The `pre_tool_call` decision the call ran under.
    pub decision_id: String,
    /// How the call ended.
    pub status: ExecutionStatus,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

fn require(who: &Identity, role: &str) -> Result<(), EngineError> {
    if who.has_role(role) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!("needs the `{role}` role")).into())
    }
}

fn same_tenant(who: &Identity, tenant: &str) -> bool {
    who.tenant == "*" || who.tenant == tenant
}

/// Gate-wide operations (the registry, bundles, scopes beyond one tenant)
/// need an operator key: `ward:admin` in every tenant (`*`).
pub(crate) fn require_operator(who: &Identity) -> Result<(), EngineError> {
    require(who, ROLE_ADMIN)?;
    if who.tenant == "*" {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!(
            "a key of tenant `{}` acts in its tenant only; this needs an operator key (tenant `*`)",
            who.tenant
        ))
        .into())
    }
}

/// A scope a caller may act on: its own tenant, or any scope for an
/// operator key.
fn require_scope(who: &Identity, role: &str, scope: &Scope) -> Result<(), EngineError> {
    require(who, role)?;
    match scope {
        Scope::Tenant(t) if same_tenant(who, t) => Ok(()),
        _ if who.tenant == "*" => Ok(()),
        _ => Err(AuthError::Forbidden(format!(
            "a key of tenant `{}` may act on `tenant:{}` only, not `{}`",
            who.tenant,
            who.tenant,
            scope.label()
        ))
        .into()),
    }
}

impl Engine {
    /// Registers (or replaces) an agent version.
    pub async fn register_agent(
        &self,
        who: &Identity,
        agent: AgentRecord,
    ) -> Result<(), EngineError> {
        require_operator(who)?;
        agent.validate().map_err(EngineError::Invalid)?;
        blocking(&self.inner.state, move |s| s.put_agent(&agent)).await?;
        self.refresh().await
    }

    /// Registered agent versions.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>, EngineError> {
        Ok(blocking(&self.inner.state, |s| s.agents()).await?)
    }

    /// Sets a kill switch or shadow scope.
    pub async fn set_switch(
        &self,
        who: &Identity,
        kind: SwitchKind,
        scope: Scope,
        reason: String,
    ) -> Result<Switch, EngineError> {
        require_scope(who, ROLE_ADMIN, &scope)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("a switch needs a reason".into()));
        }
        let switch = Switch {
            kind,
            scope,
            reason,
            by: who.principal.id.clone(),
            at_ms: self.now_ms(),
        };
        let stored = switch.clone();
        blocking(&self.inner.state, move |s| s.put_switch(&stored)).await?;
        self.refresh().await?;
        Ok(switch)
    }

    /// Clears a switch; `false` if it was not set.
    pub async fn clear_switch(
        &self,
        who: &Identity,
        kind: SwitchKind,
        scope: Scope,
    ) -> Result<bool, EngineError> {
        require_scope(who, ROLE_ADMIN, &scope)?;
        let cleared = blocking(&self.inner.state, move |s| s.clear_switch(kind, &scope)).await?;
        self.refresh().await?;
        Ok(cleared)
    }

    /// Switches that are set.
    pub async fn switches(&self) -> Result<Vec<Switch>, EngineError> {
        Ok(blocking(&self.inner.state, |s| s.switches()).await?)
    }

    /// Opens a break-glass override for `ttl_secs` (at most a day).
    pub async fn break_glass(
        &self,
        who: &Identity,
        scope: Scope,
        reason: String,
        ttl_secs: u64,
    ) -> Result<BreakGlass, EngineError> {
        require_scope(who, ROLE_BREAK_GLASS, &scope)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("break-glass needs a reason".into()));
        }
        if ttl_secs == 0 || ttl_secs > 86_400 {
            return Err(EngineError::Invalid(
                "break-glass TTL must be 1 s to 24 h".into(),
            ));
        }
        let now = self.now_ms();
        let ttl_ms = i64::try_from(ttl_secs)
            .unwrap_or(86_400)
            .saturating_mul(1000);
        let id = format!(
            "bg_{}",
            Digest::of_bytes(format!("{}\n{}\n{now}", who.principal.id, scope.label()).as_bytes())
                .hex()
                .get(..16)
                .unwrap_or_default()
        );
        let grant = BreakGlass {
            id,
            scope,
            operator: who.principal.id.clone(),
            reason,
            at_ms: now,
            expires_ms: now.saturating_add(ttl_ms),
        };
        let stored = grant.clone();
        blocking(&self.inner.state, move |s| s.put_break_glass(&stored)).await?;
        self.refresh().await?;
        Ok(grant)
    }

    /// Creates an API key; the key is shown once, only its hash is stored.
    pub async fn create_api_key(
        &self,
        who: &Identity,
        spec: ApiKeyRecord,
    ) -> Result<NewApiKey, EngineError> {
        require(who, ROLE_ADMIN)?;
        if !same_tenant(who, &spec.tenant) {
            return Err(
                AuthError::Forbidden(format!("not an admin of tenant `{}`", spec.tenant)).into(),
            );
        }
        if spec.tenant == "*" && who.tenant != "*" {
            return Err(
                AuthError::Forbidden("only an operator key makes operator keys".into()).into(),
            );
        }
        // The gate's own roles are granted only by a holder of them; a
        // tenant's business roles (`finance`, `support`) are its admins' to give.
        if let Some(role) = spec
            .roles
            .iter()
            .find(|r| r.starts_with("ward:") && !who.has_role(r))
        {
            return Err(AuthError::Forbidden(format!(
                "cannot grant `{role}`, which the caller lacks"
            ))
            .into());
        }
        let made = new_api_key(spec)?;
        let stored = made.record.clone();
        blocking(&self.inner.state, move |s| s.put_api_key(&stored)).await?;
        self.refresh().await?;
        Ok(made)
    }

    /// Stores an API key record directly (bootstrap, no caller).
    pub async fn bootstrap_api_key(&self, spec: ApiKeyRecord) -> Result<NewApiKey, EngineError> {
        let made = new_api_key(spec)?;
        let stored = made.record.clone();
        blocking(&self.inner.state, move |s| s.put_api_key(&stored)).await?;
        self.refresh().await?;
        Ok(made)
    }

    /// Approvals the caller's tenant can see, newest first.
    pub async fn approvals(&self, who: &Identity) -> Result<Vec<ApprovalRecord>, EngineError> {
        let tenant = (who.tenant != "*").then(|| who.tenant.clone());
        Ok(blocking(&self.inner.state, move |s| s.approvals(tenant.as_deref())).await?)
    }

    /// Approves or rejects. The verdict is appended to the audit log before
    /// the approval changes, so every granted approval has its evidence.
    pub async fn vote(
        &self,
        who: &Identity,
        id: &str,
        approve: bool,
        comment: Option<String>,
    ) -> Result<ApprovalRecord, EngineError> {
        for _ in 0..8 {
            let key = id.to_owned();
            let current = blocking(&self.inner.state, move |s| s.approval(&key))
                .await?
                .filter(|a| same_tenant(who, &a.tenant))
                .ok_or_else(|| {
                    EngineError::NotFound(VoteError::NotFound(id.to_owned()).to_string())
                })?;
            let now = self.now_ms();
            let next = current
                .vote(&who.principal, approve, comment.clone(), now)
                .map_err(|e| match e {
                    VoteError::SelfApproval(_) | VoteError::NotApprover { .. } => {
                        EngineError::Auth(AuthError::Forbidden(e.to_string()))
                    }
                    other => EngineError::Invalid(other.to_string()),
                })?;
            let digest = current
                .request_digest
                .parse::<Digest>()
                .map_err(|e| EngineError::Invalid(format!("stored request digest: {e}")))?;
            let entry = Entry::approval(
                &current.tenant,
                &current.id,
                &current.decision_id,
                digest,
                &who.principal,
                if approve {
                    Verdict::Granted
                } else {
                    Verdict::Rejected
                },
                Timestamp::from_unix_millis(u64::try_from(now).unwrap_or(0)),
            )
            .map_err(|e| EngineError::Audit(e.to_string()))?;
            self.inner
                .audit
                .append(entry)
                .await
                .map_err(|e| EngineError::Audit(e.to_string()))?;
            let (old, new) = (current.clone(), next.clone());
            if blocking(&self.inner.state, move |s| s.update_approval(&old, &new)).await? {
                return Ok(next);
            }
        }
        Err(EngineError::Invalid(format!(
            "approval {id} kept changing; try again"
        )))
    }

    /// Records what actually ran for a decision: the execution entry in the
    /// audit log, and the result in the tool's circuit breaker.
    pub async fn report_execution(
        &self,
        request: &Request,
        execution: &Execution,
        result: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let entry = self.execution_entry(request, execution, result)?;
        self.inner
            .audit
            .append(entry)
            .await
            .map_err(|e| EngineError::Audit(e.to_string()))?;
        Ok(())
    }

    /// The circuit breaker fed with what ran, and the execution entry that
    /// records it, ready to append.
    pub(crate) fn execution_entry(
        &self,
        request: &Request,
        execution: &Execution,
        result: &serde_json::Value,
    ) -> Result<Entry, EngineError> {
        let now = self.now_ms();
        let tool = request.tool.as_deref().unwrap_or_default();
        let ok = execution.status == ExecutionStatus::Ok;
        let opened = self
            .inner
            .breakers
            .lock()
            .map_err(|_| EngineError::Invalid("circuit breakers poisoned".into()))?
            .record(tool, ok, now);
        if opened {
            eprintln!("ward: circuit breaker of `{tool}` opened after repeated errors");
        }
        Entry::execution(
            &request.actor.tenant,
            &request.actor.session,
            &execution.decision_id,
            tool,
            result,
            execution.status,
            execution.duration_ms,
            Timestamp::from_unix_millis(u64::try_from(now).unwrap_or(0)),
        )
        .map_err(|e| EngineError::Audit(e.to_string()))
    }

    /// Tools whose circuit breaker is open on this node.
    pub fn open_breakers(&self) -> Vec<String> {
        self.inner
            .breakers
            .lock()
            .map(|b| b.open_tools())
            .unwrap_or_default()
    }
}
