//! The receipt stage: the decision's audit entry (with what ran, when the
//! call reported it), appended and durable before the answer leaves.

use std::time::Instant;

use ward_core::{Decision, Digest, Outcome, ReasonCode, Request};

use super::{derived_id, internal, stage_deny, Decided, Run, Stage};
use crate::engine::{blocking, ActiveBundle, Engine};
use crate::identity::{bind_actor, AuthError, Credentials};

impl Engine {
    /// Records a deny that a way in made before the pipeline could run:
    /// the MCP gateway's, when no upstream offers the tool, its contract
    /// changed since it was pinned, or the upstream cannot honour the
    /// policy's constraints. The deny is built as a stage's would be (the
    /// active policy, a deterministic id, `code` and `message` as its
    /// reason) and goes through the receipt stage, so it is in the audit
    /// log like every other decision; if the log cannot take it, the
    /// answer is still a deny, without a receipt.
    ///
    /// The credentials are checked as in [`Engine::decide`]. Arguments
    /// (or a context) with no canonical form cannot be digested into an
    /// entry: they are left out of the recorded request (the reason should
    /// say so), so that the refusal is still logged.
    pub async fn refuse(
        &self,
        creds: &Credentials,
        mut request: Request,
        code: ReasonCode,
        message: String,
    ) -> Result<Decided, AuthError> {
        let start = Instant::now();
        let identity = self.authenticate(creds)?;
        request.actor = bind_actor(&identity, &request.actor)?;
        if Digest::of_args(&request.args).is_err() {
            request.args.clear();
        }
        if Digest::of_request(&request).is_err() {
            request.context.clear();
        }
        let mut run = Run::new(&request, start.elapsed(), None);
        let bundle = self.active_bundle();
        let now = self.now_ms().div_euclid(1000);
        let mut deny = stage_deny(bundle.as_deref(), &request, (code, message), now);
        // Its own id: the call may have had a decision of the pipeline in
        // the same second (a permit whose constraints the upstream cannot
        // honour, a call made just before its tool's contract changed),
        // and the two must not share one.
        let seed = format!("refusal\n{}\n{}", deny.decision_id, summary(&deny));
        deny.decision_id = derived_id("dec", &seed);
        let decision = self
            .receipt(bundle.as_deref(), &request, deny, None, &mut run)
            .await;
        Ok(Decided {
            decision,
            request,
            replayed: false,
            stages: run.stages,
            alerts: run.alerts,
            execution: None,
        })
    }

    /// Appends the decision to the audit log and attaches the receipt. If
    /// the log cannot take it, the answer is a deny without a receipt: no
    /// permit ever leaves without one.
    ///
    /// A `require_approval` is answered once both its entry and its
    /// approval are durable. If the approval could not be stored, the
    /// answer is a deny, logged after the held call's entry (the log then
    /// holds both, and the deny is what the caller got).
    pub(super) async fn receipt(
        &self,
        bundle: Option<&ActiveBundle>,
        request: &Request,
        mut decision: Decision,
        mut claimed: Option<String>,
        run: &mut Run,
    ) -> Decision {
        let mut appended = self.append(request, &decision, run).await;
        let approval = match run.approval_write.take() {
            None => Ok(()),
            Some(write) => match write.await {
                Ok(stored) => stored.map_err(|e| e.to_string()),
                Err(e) => Err(format!("state task failed: {e}")),
            },
        };
        if let Err(e) = approval {
            let tenant = request.actor.tenant.clone();
            if let Some(key) = claimed.take() {
                let _ = blocking(&self.inner.state, move |s| s.idem_release(&tenant, &key)).await;
            }
            let now = self.now_ms().div_euclid(1000);
            decision = stage_deny(bundle, request, internal("approval store", e), now);
            if appended.is_ok() {
                appended = self.append(request, &decision, run).await;
            }
        }
        run.lap(Stage::Receipt);
        let tenant = request.actor.tenant.clone();
        match appended {
            Ok(receipt) => {
                decision.receipt = Some(receipt.encode());
                // A call held for approval is not settled: its key is freed,
                // so the retry that carries the approval is decided afresh
                // (and is the one a later replay returns).
                let settled = decision.outcome != Outcome::RequireApproval
                    && decision
                        .reasons
                        .first()
                        .is_none_or(|r| r.code != ReasonCode::ApprovalPending);
                let claimed = match claimed {
                    Some(key) if !settled => {
                        let _ = blocking(&self.inner.state, move |s| s.idem_release(&tenant, &key))
                            .await;
                        return decision;
                    }
                    other => other,
                };
                if let Some(key) = claimed {
                    if let Ok(json) = serde_json::to_string(&decision) {
                        // The decision stands even if its replay copy is lost.
                        let _ = blocking(&self.inner.state, move |s| {
                            s.idem_finish(&tenant, &key, &json)
                        })
                        .await;
                    }
                }
                decision
            }
            Err(e) => {
                if let Some(key) = claimed {
                    let _ =
                        blocking(&self.inner.state, move |s| s.idem_release(&tenant, &key)).await;
                }
                let now = self.now_ms().div_euclid(1000);
                let mut deny = stage_deny(
                    bundle,
                    request,
                    internal("audit log unavailable, no receipt", e),
                    now,
                );
                deny.reasons.extend(
                    decision
                        .reasons
                        .into_iter()
                        .filter(|_| decision.outcome == Outcome::Deny),
                );
                deny
            }
        }
    }

    /// Appends the decision's entry (after what ran, if the call reported
    /// it) and waits until it is durable.
    async fn append(
        &self,
        request: &Request,
        decision: &Decision,
        run: &mut Run,
    ) -> Result<ward_audit::Receipt, String> {
        let time =
            ward_audit::Timestamp::from_unix_millis(u64::try_from(self.now_ms()).unwrap_or(0));
        // With no digest, `decision` fails for the canonical form.
        let append = match &run.digest {
            Ok(d) => ward_audit::AppendRequest::decision_digested(request, *d, decision, time),
            Err(_) => ward_audit::AppendRequest::decision(request, decision, time),
        }
        .map_err(|e| e.to_string())?;
        let Some(ran) = run.extra.take() else {
            return self
                .inner
                .audit
                .append(append)
                .await
                .map_err(|e| e.to_string());
        };
        // Stands if this stage is abandoned at the time budget after the
        // entries were submitted.
        run.execution = Some(Err(
            "the decision ran past its budget while what ran was being logged; \
             the log shows whether it was"
                .to_owned(),
        ));
        // What ran first, then the decision on its result.
        let both = self
            .inner
            .audit
            .append_together(vec![ran.into(), append])
            .await
            .map_err(|e| e.to_string());
        run.execution = Some(both.as_ref().map(drop).map_err(Clone::clone));
        both.and_then(|mut receipts| {
            receipts
                .pop()
                .ok_or_else(|| "the log gave no receipt".to_owned())
        })
    }
}

/// The reasons of a decision, code and message, one per line.
fn summary(decision: &Decision) -> String {
    decision
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.code.as_str(), r.message))
        .collect::<Vec<_>>()
        .join("\n")
}
