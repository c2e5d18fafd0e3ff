//! The receipt stage: the decision's audit entry (with what ran, when the
//! call reported it), appended and durable before the answer leaves.

use ward_core::{Decision, Outcome, ReasonCode, Request};

use super::{internal, stage_deny, Run, Stage};
use crate::engine::{blocking, ActiveBundle, Engine};

impl Engine {
    /// Appends the decision to the audit log and attaches the receipt. If
    /// the log cannot take it, the answer is a deny without a receipt: no
    /// permit ever leaves without one.
    pub(super) async fn receipt(
        &self,
        bundle: Option<&ActiveBundle>,
        request: &Request,
        mut decision: Decision,
        claimed: Option<String>,
        run: &mut Run,
    ) -> Decision {
        let time =
            ward_audit::Timestamp::from_unix_millis(u64::try_from(self.now_ms()).unwrap_or(0));
        let appended = match ward_audit::AppendRequest::decision(request, &decision, time) {
            Ok(append) => match run.extra.take() {
                None => self
                    .inner
                    .audit
                    .append(append)
                    .await
                    .map_err(|e| e.to_string()),
                Some(ran) => {
                    // Stands if this stage is abandoned at the time budget
                    // after the entries were submitted.
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
            },
            Err(e) => Err(e.to_string()),
        };
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
}
