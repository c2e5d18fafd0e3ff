#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

//! Approvals end to end, over real SQLite state and a real audit log: the
//! binding to the call, the policy and the clock; votes, quorum and
//! self-approval; one call per approval; a rejection that a retry does
//! not reopen; and an approval the store cannot take.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::stalling::Stalling;
use common::*;
use serde_json::json;
use ward_core::{Outcome, PrincipalKind};
use ward_engine::EngineConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_bound_to_the_call_the_policy_and_the_clock() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let big = || {
        call(
            "approve_refund",
            json!({"order_id": "8812", "amount": 750.0}),
        )
    };
    let d = f.decide(big()).await;
    assert_eq!(d.decision.outcome, Outcome::RequireApproval);
    let id = d.decision.approval.as_ref().unwrap().id.clone();
    let with = |mut r: ward_core::Request, id: &str| {
        r.approval_id = Some(id.to_owned());
        r
    };
    assert_eq!(
        codes(&f.decide(with(big(), &id)).await),
        ["approval_pending"]
    );

    let finance = f.engine.authenticate(&creds(&f.finance_key)).unwrap();
    let agent_identity = f.engine.authenticate(&creds(&f.agent_key)).unwrap();
    assert!(
        f.engine
            .vote(&agent_identity, &id, true, None)
            .await
            .is_err(),
        "not an approver"
    );
    let selfish = f
        .engine
        .bootstrap_api_key(api_key(
            "acme",
            "svc-support",
            PrincipalKind::Service,
            &["finance"],
            None,
        ))
        .await
        .unwrap();
    let selfish = f.engine.authenticate(&creds(&selfish.key)).unwrap();
    let err = f.engine.vote(&selfish, &id, true, None).await.unwrap_err();
    assert!(err.to_string().contains("self-approval"), "{err}");
    let approved = f
        .engine
        .vote(&finance, &id, true, Some("ok".into()))
        .await
        .unwrap();
    assert_eq!(approved.status.as_str(), "approved");

    let d = f.decide(with(big(), &id)).await;
    assert_eq!(
        d.decision.outcome,
        Outcome::Allow,
        "{:?}",
        d.decision.reasons
    );
    let mut changed = with(big(), &id);
    changed.args.insert("amount".into(), json!(7500.0));
    assert_eq!(codes(&f.decide(changed).await), ["approval_mismatch"]);
    assert_eq!(
        codes(&f.decide(with(big(), "apr_nope")).await),
        ["approval_mismatch"]
    );

    // A new policy version invalidates it.
    let v2 = SUPPORT.replace("version: 1.0.0", "version: 1.0.1");
    let up = f
        .engine
        .upload_bundle(&f.admin, vec![("bundle.yaml".into(), v2)], None)
        .await
        .unwrap();
    f.engine
        .activate_bundle(&f.admin, &up.digest)
        .await
        .unwrap();
    assert_eq!(
        codes(&f.decide(with(big(), &id)).await),
        ["approval_policy_changed"]
    );

    // Expiry and rejection, under the new policy.
    let d = f.decide(big()).await;
    let id2 = d.decision.approval.unwrap().id;
    f.advance_ms(3_601_000);
    f.engine.refresh().await.unwrap();
    assert!(
        f.engine.vote(&finance, &id2, true, None).await.is_err(),
        "expired approvals take no votes"
    );
    assert_eq!(
        codes(&f.decide(with(big(), &id2)).await),
        ["approval_expired"]
    );
    let d = f.decide(big()).await;
    let id3 = d.decision.approval.unwrap().id;
    f.engine
        .vote(&finance, &id3, false, Some("no".into()))
        .await
        .unwrap();
    assert_eq!(
        codes(&f.decide(with(big(), &id3)).await),
        ["approval_rejected"]
    );
    let listed = f.engine.approvals(&finance).await.unwrap();
    assert_eq!(listed.len(), 3);
}

/// An approval admits one call. An idempotency key used while the call
/// waits for approval is not bound to the wait: the retry that carries the
/// approval decides afresh under the same key, and replays return that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_lets_one_call_through_and_a_key_waits_for_it() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let big = |key: &str, approval: Option<&str>| {
        let mut r = call(
            "approve_refund",
            json!({"order_id": "8812", "amount": 750.0}),
        );
        r.idempotency_key = Some(key.to_owned());
        r.approval_id = approval.map(str::to_owned);
        r
    };
    let held = f.decide(big("k-1", None)).await;
    assert_eq!(held.decision.outcome, Outcome::RequireApproval);
    let id = held.decision.approval.as_ref().unwrap().id.clone();
    // Asking again under the key while it waits is not a replay of the wait,
    // and finds the approval already open for the call, seconds later too.
    f.advance_ms(2_000);
    let again = f.decide(big("k-1", None)).await;
    assert!(!again.replayed);
    assert_eq!(again.decision.outcome, Outcome::RequireApproval);
    assert_eq!(again.decision.approval.as_ref().unwrap().id, id);
    assert_eq!(
        again.decision.approval.as_ref().unwrap().expires_at,
        held.decision.approval.as_ref().unwrap().expires_at
    );
    let pending = f.decide(big("k-1", Some(&id))).await;
    assert!(!pending.replayed);
    assert_eq!(codes(&pending), ["approval_pending"]);

    let finance = f.engine.authenticate(&creds(&f.finance_key)).unwrap();
    f.engine.vote(&finance, &id, true, None).await.unwrap();
    // Asking without the id once it is granted points at the same approval.
    let pointed = f.decide(big("k-1", None)).await;
    assert_eq!(pointed.decision.approval.as_ref().unwrap().id, id);
    let ran = f.decide(big("k-1", Some(&id))).await;
    assert_eq!(
        ran.decision.outcome,
        Outcome::Allow,
        "{:?}",
        ran.decision.reasons
    );
    assert!(!ran.replayed);
    // The key now holds the permit: a replay is that decision, byte for byte.
    let replay = f.decide(big("k-1", Some(&id))).await;
    assert!(replay.replayed);
    assert_eq!(replay.decision, ran.decision);
    // The approval is used up: the same call under another key is refused.
    let twice = f.decide(big("k-2", Some(&id))).await;
    assert_eq!(
        codes(&twice),
        ["approval_used"],
        "{:?}",
        twice.decision.reasons
    );
    let record = f
        .engine
        .approvals(&finance)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    assert_eq!(record.status.as_str(), "used");
    assert_eq!(
        record.used_by.as_deref(),
        Some(ran.decision.decision_id.as_str())
    );
}

/// A rejected call asked again (the replay of a LangGraph node after its
/// interrupt asks without the approval id) is refused with
/// `approval_rejected`, in a later second too, and is not put to the
/// approvers again until the rejected approval would have expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_asked_again_stays_rejected_until_its_approval_expires() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let big = || {
        let mut r = call(
            "approve_refund",
            json!({"order_id": "8812", "amount": 990.0}),
        );
        r.idempotency_key = Some("call_x".into());
        r
    };
    let held = f.decide(big()).await;
    let id = held.decision.approval.as_ref().unwrap().id.clone();
    let finance = f.engine.authenticate(&creds(&f.finance_key)).unwrap();
    f.engine
        .vote(&finance, &id, false, Some("no".into()))
        .await
        .unwrap();
    f.advance_ms(2_000);
    let again = f.decide(big()).await;
    assert_eq!(again.decision.outcome, Outcome::Deny);
    assert_eq!(codes(&again), ["approval_rejected"]);
    assert!(
        again.decision.reasons[0].message.contains(&id),
        "{:?}",
        again.decision.reasons
    );
    assert!(again.decision.receipt.is_some());
    let mut with_id = big();
    with_id.approval_id = Some(id.clone());
    assert_eq!(codes(&f.decide(with_id).await), ["approval_rejected"]);
    assert_eq!(f.engine.approvals(&finance).await.unwrap().len(), 1);
    // Another call (other arguments) still asks.
    let mut other = big();
    other.args.insert("amount".into(), json!(991.0));
    other.idempotency_key = Some("call_z".into());
    assert_eq!(
        f.decide(other).await.decision.outcome,
        Outcome::RequireApproval
    );
    // Once the rejected approval would have expired, the call may ask again
    // (under another key: the first one now holds the deny).
    f.advance_ms(3_601_000);
    f.engine.refresh().await.unwrap();
    let replayed = f.decide(big()).await;
    assert!(replayed.replayed);
    assert_eq!(codes(&replayed), ["approval_rejected"]);
    let mut fresh = big();
    fresh.idempotency_key = Some("call_y".into());
    let later = f.decide(fresh).await;
    assert_eq!(later.decision.outcome, Outcome::RequireApproval);
    assert_ne!(later.decision.approval.as_ref().unwrap().id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_that_cannot_be_stored_denies_the_held_call_and_the_log_says_so() {
    let refuse = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&refuse);
    let f = fixture_over(SUPPORT, EngineConfig::default(), move |sqlite| {
        let mut state = Stalling::new(sqlite);
        state.refuse_approvals = flag;
        Arc::new(state)
    })
    .await;
    let big = || {
        call(
            "approve_refund",
            json!({"order_id": "8812", "amount": 750.0}),
        )
    };

    // The approval is stored while the receipt is written; it fails, so
    // the call is denied, and that deny is logged after the held call.
    let d = f.decide(big()).await;
    assert_eq!(
        d.decision.outcome,
        Outcome::Deny,
        "{:?}",
        d.decision.reasons
    );
    assert_eq!(codes(&d), ["internal_error"]);
    let reason = &d.decision.reasons[0].message;
    assert!(
        reason.contains("approval store") && reason.contains("disk I/O"),
        "{reason}"
    );
    assert!(d.decision.approval.is_none());
    let receipt = d
        .decision
        .receipt
        .as_deref()
        .expect("the deny has a receipt");
    let verified = ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "r").unwrap();
    let mut store = ward_audit::SqliteStore::open(&f.dir.path().join("audit.db")).unwrap();
    let entries = ward_audit::Store::entries(
        &mut store,
        &verified.origin,
        verified.index - 1,
        verified.index + 1,
    )
    .unwrap();
    let held: serde_json::Value = serde_json::from_slice(&entries[0]).unwrap();
    let denied: serde_json::Value = serde_json::from_slice(&entries[1]).unwrap();
    assert_eq!(held["outcome"], "require_approval", "{held}");
    assert_eq!(denied["outcome"], "deny", "{denied}");
    assert_eq!(entries[1], verified.entry);
    assert_eq!(held["decision_id"], denied["decision_id"], "one call");
    let approvals = f.engine.approvals(&f.admin).await.unwrap();
    assert!(approvals.is_empty(), "{approvals:?}");

    // Once approvals can be stored again, the same call is held, and its
    // approval exists when the answer arrives.
    refuse.store(false, Ordering::SeqCst);
    let d = f.decide(big()).await;
    assert_eq!(
        d.decision.outcome,
        Outcome::RequireApproval,
        "{:?}",
        d.decision.reasons
    );
    let id = &d.decision.approval.as_ref().unwrap().id;
    let approvals = f.engine.approvals(&f.admin).await.unwrap();
    assert_eq!(
        approvals.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
}
