//! Turning an evaluation into the wire `Decision`, deterministically.
//!
//! Ids are derived from the request digest, the policy digest and the
//! decision time, so the same inputs always give byte-identical decisions.
//! The engine later adds the receipt.

use ward_core::{ApprovalTicket, Decision, Digest, Mode, Reason, ReasonCode, Request};

use super::compiled::Compiled;
use super::eval::{evaluate, Evaluation};
use crate::facts::Facts;

/// Evaluates and builds the decision in one step (no receipt).
pub fn decide(compiled: &Compiled, request: &Request, facts: &Facts) -> Decision {
    let evaluation = evaluate(compiled, request, facts);
    to_decision(evaluation, compiled, request, facts.now)
}

/// [`decide`], for a caller that already holds `request_digest`, which
/// must be `Digest::of_request(request)`: the gate computes it once per
/// decision and uses it for the receipt, idempotency and approvals too.
pub fn decide_digested(
    compiled: &Compiled,
    request: &Request,
    request_digest: Digest,
    facts: &Facts,
) -> Decision {
    debug_assert_eq!(Digest::of_request(request).ok(), Some(request_digest));
    build(
        evaluate(compiled, request, facts),
        compiled,
        request_digest,
        facts.now,
    )
}

/// Builds the wire decision for an evaluation made at `now` (Unix seconds).
pub fn to_decision(
    evaluation: Evaluation,
    compiled: &Compiled,
    request: &Request,
    now: i64,
) -> Decision {
    let request_digest = match Digest::of_request(request) {
        Ok(d) => d,
        Err(e) => {
            // A request with no canonical form cannot be bound to a receipt.
            let denied = Evaluation::deny(
                ReasonCode::SchemaViolation,
                format!("request has no canonical form: {e}"),
            );
            return build(denied, compiled, Digest::of_bytes(b""), now);
        }
    };
    build(evaluation, compiled, request_digest, now)
}

fn build(
    evaluation: Evaluation,
    compiled: &Compiled,
    request_digest: Digest,
    now: i64,
) -> Decision {
    let policy = compiled.policy.clone();
    let seed = format!("{request_digest}\n{}\n{now}", policy.digest);
    let decision_id = format!(
        "dec_{}",
        short(&Digest::of_bytes(format!("decision\n{seed}").as_bytes()))
    );
    let approval = evaluation.approval.as_ref().map(|req| ApprovalTicket {
        id: format!(
            "apr_{}",
            short(&Digest::of_bytes(format!("approval\n{seed}").as_bytes()))
        ),
        expires_at: rfc3339(now.saturating_add(i64::try_from(req.ttl_secs).unwrap_or(i64::MAX))),
        approvers: req.approvers.clone(),
        quorum: req.quorum,
    });
    let mut reasons = evaluation.reasons;
    let mode = if compiled.defaults.shadow {
        reasons.push(Reason {
            code: ReasonCode::Shadow,
            rule: None,
            message: "shadow mode: the outcome is recorded, not enforced".into(),
        });
        Mode::Shadow
    } else {
        Mode::Enforce
    };
    Decision {
        decision_id,
        outcome: evaluation.outcome,
        reasons,
        policy: Some(policy),
        constraints: evaluation.constraints,
        rewritten_args: evaluation.rewritten_args,
        approval,
        mode,
        receipt: None,
    }
}

fn short(d: &Digest) -> String {
    d.hex().chars().take(26).collect()
}

/// Formats Unix seconds as RFC 3339 UTC, e.g. `2026-11-22T01:10:30Z`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_309_830), "2026-11-22T01:10:30Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
