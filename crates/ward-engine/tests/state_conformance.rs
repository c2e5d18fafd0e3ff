#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! One set of checks, run against every [`StateStore`]: `SqliteState` on a
//! file in a temporary directory and `PgState` on a database created for the
//! test and dropped after it. The PostgreSQL half needs a server:
//! `WARD_TEST_PG` (a libpq connection string to an administrative database)
//! or, by default, `host=127.0.0.1 user=postgres dbname=postgres`.
//!
//! The sync `postgres` client must not run on a tokio runtime thread; these
//! tests use plain threads only.

mod pg;
mod sample;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::json;
use ward_core::PrincipalKind;
use ward_engine::{
    AgentRecord, ApiKeyRecord, ApprovalRecord, ApprovalStatus, BreakGlass, BundleRecord, IdemClaim,
    LimitTake, ModelInfo, PgState, Scope, SqliteState, StateStore, Switch, SwitchKind, Vote,
};

use pg::TempDb;
use sample::approval;

/// Keeps a store's backing resource alive for the test.
type Guard = Box<dyn std::any::Any>;

fn sqlite_store() -> (Arc<dyn StateStore>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(&dir.path().join("state.db")).unwrap();
    (Arc::new(state), Box::new(dir))
}

fn pg_store() -> (Arc<dyn StateStore>, Guard) {
    let db = TempDb::new("ward_state_test");
    let state = PgState::connect(&db.conninfo()).unwrap();
    (Arc::new(state), Box::new(db))
}

/// Runs each named check against both stores, as `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { let (s, _g) = super::sqlite_store(); super::$name(s); })*
        }
        mod postgres {
            $(#[test] fn $name() { let (s, _g) = super::pg_store(); super::$name(s); })*
        }
    };
}

conformance!(
    api_keys_replace_and_round_trip,
    agents_replace_and_round_trip,
    switches_set_replace_and_clear,
    break_glass_filters_expired_grants,
    idempotency_claim_finish_and_replay,
    idempotency_release_only_deletes_an_unfinished_claim,
    idempotency_records_expire,
    idempotency_expired_records_are_purged_oldest_first,
    idempotency_concurrent_claims_have_one_winner,
    limits_take_until_the_maximum,
    limits_concurrent_takes_never_pass_the_maximum,
    approvals_create_list_and_round_trip,
    approvals_compare_and_swap,
    approvals_are_found_by_their_call,
    bundles_archive_and_activate,
);

fn api_key(id: &str, tenant: &str, agent: Option<&str>) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        hash: format!("{id:0>64}"),
        tenant: tenant.into(),
        principal: format!("svc-{id}"),
        kind: PrincipalKind::Service,
        roles: vec!["support".into(), "prémium \"quoted\"".into()],
        agent: agent.map(str::to_owned),
        revoked: false,
    }
}

fn api_keys_replace_and_round_trip(s: Arc<dyn StateStore>) {
    assert!(s.api_keys().unwrap().is_empty());
    let b = api_key("b2", "*", None);
    let a = api_key("a1", "acme", Some("support-bot"));
    s.put_api_key(&b).unwrap();
    s.put_api_key(&a).unwrap();
    assert_eq!(s.api_keys().unwrap(), vec![a.clone(), b.clone()]);
    let revoked = ApiKeyRecord {
        revoked: true,
        roles: vec![],
        ..a
    };
    s.put_api_key(&revoked).unwrap();
    assert_eq!(s.api_keys().unwrap(), vec![revoked, b]);
}

fn agent(id: &str, version: &str, active: bool) -> AgentRecord {
    AgentRecord {
        id: id.into(),
        version: version.into(),
        model: ModelInfo {
            provider: "anthropic".into(),
            id: "claude-sonnet-4-5".into(),
            version: String::new(),
        },
        prompt_digest: format!("sha256:{}", "ab".repeat(32)),
        tools: vec!["lookup_*".into(), "approve_refund".into()],
        owner: "support-platform@example.com".into(),
        environment: "production".into(),
        active,
    }
}

fn agents_replace_and_round_trip(s: Arc<dyn StateStore>) {
    assert!(s.agents().unwrap().is_empty());
    let (v2, v1, other) = (
        agent("support-bot", "2.0.0", true),
        agent("support-bot", "1.0.0", true),
        agent("billing-bot", "1.0.0", true),
    );
    for a in [&v2, &v1, &other] {
        s.put_agent(a).unwrap();
    }
    assert_eq!(
        s.agents().unwrap(),
        vec![other.clone(), v1.clone(), v2.clone()]
    );
    let retired = AgentRecord {
        active: false,
        tools: vec![],
        ..v1
    };
    s.put_agent(&retired).unwrap();
    assert_eq!(s.agents().unwrap(), vec![other, retired, v2]);
}

fn switch(kind: SwitchKind, scope: Scope, reason: &str) -> Switch {
    Switch {
        kind,
        scope,
        reason: reason.into(),
        by: "ops@example.com".into(),
        at_ms: 1_700_000_000_000,
    }
}

fn switches_set_replace_and_clear(s: Arc<dyn StateStore>) {
    assert!(s.switches().unwrap().is_empty());
    let kill = switch(SwitchKind::Kill, Scope::Tool("send_email".into()), "spam");
    let shadow = switch(SwitchKind::Shadow, Scope::Tenant("acme".into()), "trial");
    let global = switch(SwitchKind::Kill, Scope::Global, "incident ✋");
    for w in [&shadow, &kill, &global] {
        s.put_switch(w).unwrap();
    }
    // Ordered by kind, then scope label.
    assert_eq!(
        s.switches().unwrap(),
        vec![global.clone(), kill.clone(), shadow.clone()]
    );
    let again = Switch {
        reason: "still spam".into(),
        at_ms: 1_700_000_000_999,
        ..kill.clone()
    };
    s.put_switch(&again).unwrap();
    assert_eq!(
        s.switches().unwrap(),
        vec![global.clone(), again, shadow.clone()]
    );
    // The same scope under the other kind is another switch.
    assert!(!s
        .clear_switch(SwitchKind::Shadow, &Scope::Tool("send_email".into()))
        .unwrap());
    assert!(s
        .clear_switch(SwitchKind::Kill, &Scope::Tool("send_email".into()))
        .unwrap());
    assert!(!s
        .clear_switch(SwitchKind::Kill, &Scope::Tool("send_email".into()))
        .unwrap());
    assert!(s.clear_switch(SwitchKind::Kill, &Scope::Global).unwrap());
    assert_eq!(s.switches().unwrap(), vec![shadow]);
}

fn grant(id: &str, scope: Scope, expires_ms: i64) -> BreakGlass {
    BreakGlass {
        id: id.into(),
        scope,
        operator: "oncall@example.com".into(),
        reason: "payment provider outage".into(),
        at_ms: 50,
        expires_ms,
    }
}

fn break_glass_filters_expired_grants(s: Arc<dyn StateStore>) {
    let early = grant("bg_a", Scope::Capability("payment".into()), 100);
    let late = grant("bg_b", Scope::Agent("support-bot".into()), 200);
    s.put_break_glass(&late).unwrap();
    s.put_break_glass(&early).unwrap();
    assert_eq!(s.break_glass(0).unwrap(), vec![early.clone(), late.clone()]);
    assert_eq!(
        s.break_glass(99).unwrap(),
        vec![early.clone(), late.clone()]
    );
    // A grant that expires at `now` no longer applies.
    assert_eq!(s.break_glass(100).unwrap(), vec![late.clone()]);
    assert_eq!(s.break_glass(150).unwrap(), vec![late.clone()]);
    assert!(s.break_glass(200).unwrap().is_empty());
    // Re-recording a grant (by id) replaces it, expiry included.
    let extended = BreakGlass {
        expires_ms: 300,
        ..early
    };
    s.put_break_glass(&extended).unwrap();
    assert_eq!(s.break_glass(250).unwrap(), vec![extended]);
}

fn seen(digest: &str, decision: Option<&str>) -> IdemClaim {
    IdemClaim::Seen {
        request_digest: digest.into(),
        decision: decision.map(str::to_owned),
    }
}

fn idempotency_claim_finish_and_replay(s: Arc<dyn StateStore>) {
    let claim = |tenant: &str, key: &str, digest: &str| {
        s.idem_claim(tenant, key, digest, 1_000, 0).unwrap()
    };
    assert_eq!(claim("acme", "k1", "sha256:aa"), IdemClaim::Claimed);
    // In flight: seen, no decision yet.
    assert_eq!(claim("acme", "k1", "sha256:aa"), seen("sha256:aa", None));
    // Another request with the key reports the first request's digest.
    assert_eq!(claim("acme", "k1", "sha256:bb"), seen("sha256:aa", None));
    // Keys are per tenant.
    assert_eq!(claim("globex", "k1", "sha256:aa"), IdemClaim::Claimed);
    let decision =
        json!({"decision_id": "dec_1", "outcome": "allow", "note": "ünïcode \"q\""}).to_string();
    s.idem_finish("acme", "k1", &decision).unwrap();
    assert_eq!(
        claim("acme", "k1", "sha256:aa"),
        seen("sha256:aa", Some(&decision))
    );
    assert_eq!(claim("globex", "k1", "sha256:aa"), seen("sha256:aa", None));
    // Finishing an unknown key is harmless and claims nothing.
    s.idem_finish("acme", "nope", "{}").unwrap();
    assert_eq!(claim("acme", "nope", "sha256:cc"), IdemClaim::Claimed);
}

fn idempotency_release_only_deletes_an_unfinished_claim(s: Arc<dyn StateStore>) {
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:aa", 1_000, 0).unwrap(),
        IdemClaim::Claimed
    );
    s.idem_release("acme", "k").unwrap();
    // Released: a retry (even of another request) claims it afresh.
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:bb", 1_001, 0).unwrap(),
        IdemClaim::Claimed
    );
    s.idem_finish("acme", "k", "{\"d\":1}").unwrap();
    s.idem_release("acme", "k").unwrap();
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:bb", 1_002, 0).unwrap(),
        seen("sha256:bb", Some("{\"d\":1}"))
    );
    // Releasing an unknown key is harmless.
    s.idem_release("acme", "unknown").unwrap();
}

fn idempotency_records_expire(s: Arc<dyn StateStore>) {
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:aa", 1_000, 0).unwrap(),
        IdemClaim::Claimed
    );
    s.idem_finish("acme", "k", "{\"d\":1}").unwrap();
    // A record made exactly at the cut-off still counts.
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:bb", 5_000, 1_000)
            .unwrap(),
        seen("sha256:aa", Some("{\"d\":1}"))
    );
    // One made before it is gone: the key is claimed again, for the new
    // request, with no decision.
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:bb", 5_000, 1_001)
            .unwrap(),
        IdemClaim::Claimed
    );
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:cc", 5_001, 1_001)
            .unwrap(),
        seen("sha256:bb", None)
    );
    // An unfinished claim expires too (a node died mid-decision).
    assert_eq!(
        s.idem_claim("acme", "k", "sha256:cc", 9_000, 5_001)
            .unwrap(),
        IdemClaim::Claimed
    );
}

fn idempotency_expired_records_are_purged_oldest_first(s: Arc<dyn StateStore>) {
    for (i, at) in [(0, 1_300), (1, 1_100), (2, 1_200)] {
        s.idem_claim("acme", &format!("old-{i}"), "sha256:aa", at, 0)
            .unwrap();
    }
    s.idem_finish("acme", "old-0", "{\"d\":1}").unwrap();
    s.idem_claim("acme", "new", "sha256:aa", 5_000, 0).unwrap();
    // At most two, the oldest: old-1 (1,100) and old-2 (1,200).
    assert_eq!(s.idem_purge(2_000, 2).unwrap(), 2);
    // With no cut-off a claim counts every record that is there: old-0 is,
    // old-1 is not.
    assert_eq!(
        s.idem_claim("acme", "old-0", "sha256:bb", 6_000, 0)
            .unwrap(),
        seen("sha256:aa", Some("{\"d\":1}"))
    );
    assert_eq!(
        s.idem_claim("acme", "old-1", "sha256:bb", 6_000, 0)
            .unwrap(),
        IdemClaim::Claimed
    );
    // old-1 is new again (6,000); old-0 is the last one past the cut-off.
    assert_eq!(s.idem_purge(2_000, 100).unwrap(), 1);
    assert_eq!(s.idem_purge(2_000, 100).unwrap(), 0);
    assert_eq!(
        s.idem_claim("acme", "new", "sha256:bb", 6_000, 0).unwrap(),
        seen("sha256:aa", None)
    );
}

fn idempotency_concurrent_claims_have_one_winner(s: Arc<dyn StateStore>) {
    const THREADS: usize = 8;
    const KEYS: usize = 25;
    let race = |now_ms: i64, expire_before_ms: i64| -> HashMap<usize, usize> {
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    let mut won = Vec::new();
                    for k in 0..KEYS {
                        let digest = format!("sha256:{t}");
                        let key = format!("key-{k}");
                        match s
                            .idem_claim("acme", &key, &digest, now_ms, expire_before_ms)
                            .unwrap()
                        {
                            IdemClaim::Claimed => won.push(k),
                            IdemClaim::Seen { decision, .. } => assert_eq!(decision, None),
                        }
                    }
                    won
                })
            })
            .collect();
        let mut wins = HashMap::new();
        for h in handles {
            for k in h.join().unwrap() {
                *wins.entry(k).or_insert(0) += 1;
            }
        }
        wins
    };
    let wins = race(1_000, 0);
    assert_eq!(wins.len(), KEYS, "every key was claimed: {wins:?}");
    assert!(
        wins.values().all(|&n| n == 1),
        "one winner per key: {wins:?}"
    );
    // Re-claiming expired records is just as exclusive.
    let wins = race(10_000, 5_000);
    assert_eq!(wins.len(), KEYS, "every key was re-claimed: {wins:?}");
    assert!(
        wins.values().all(|&n| n == 1),
        "one winner per key: {wins:?}"
    );
}

fn limits_take_until_the_maximum(s: Arc<dyn StateStore>) {
    assert_eq!(s.limit_used("refunds:acme", 0).unwrap(), 0.0);
    // A first take larger than the maximum is refused and creates nothing.
    assert_eq!(
        s.limit_take("refunds:acme", 0, 6.0, 5.0).unwrap(),
        LimitTake::Refused { used: 0.0 }
    );
    assert_eq!(s.limit_used("refunds:acme", 0).unwrap(), 0.0);
    assert_eq!(
        s.limit_take("refunds:acme", 0, 3.0, 5.0).unwrap(),
        LimitTake::Taken { used: 3.0 }
    );
    assert_eq!(
        s.limit_take("refunds:acme", 0, 3.0, 5.0).unwrap(),
        LimitTake::Refused { used: 3.0 }
    );
    // Up to the maximum exactly.
    assert_eq!(
        s.limit_take("refunds:acme", 0, 2.0, 5.0).unwrap(),
        LimitTake::Taken { used: 5.0 }
    );
    assert_eq!(
        s.limit_take("refunds:acme", 0, 0.5, 5.0).unwrap(),
        LimitTake::Refused { used: 5.0 }
    );
    assert_eq!(s.limit_used("refunds:acme", 0).unwrap(), 5.0);
    // Windows and keys are separate counters.
    assert_eq!(
        s.limit_take("refunds:acme", 86_400, 1.25, 5.0).unwrap(),
        LimitTake::Taken { used: 1.25 }
    );
    assert_eq!(
        s.limit_take("refunds:globex", 0, 0.75, 5.0).unwrap(),
        LimitTake::Taken { used: 0.75 }
    );
    assert_eq!(s.limit_used("refunds:acme", 86_400).unwrap(), 1.25);
    assert_eq!(s.limit_used("refunds:acme", 0).unwrap(), 5.0);
    // Taking nothing succeeds and changes nothing.
    assert_eq!(
        s.limit_take("refunds:acme", 0, 0.0, 5.0).unwrap(),
        LimitTake::Taken { used: 5.0 }
    );
}

fn limits_concurrent_takes_never_pass_the_maximum(s: Arc<dyn StateStore>) {
    const THREADS: usize = 8;
    const TAKES: usize = 40;
    const MAX: f64 = 250.0;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let mut granted = 0.0;
                for i in 0..TAKES {
                    // Whole amounts 1..=3, so every sum is exact.
                    let amount = ((t + i) % 3 + 1) as f64;
                    match s.limit_take("budget", 0, amount, MAX).unwrap() {
                        LimitTake::Taken { used } => {
                            assert!(used <= MAX, "the counter passed the maximum: {used}");
                            granted += amount;
                        }
                        LimitTake::Refused { used } => {
                            assert!(used <= MAX);
                            assert!(used + amount > MAX, "refused a take that fitted");
                        }
                    }
                }
                granted
            })
        })
        .collect();
    let granted: f64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let used = s.limit_used("budget", 0).unwrap();
    assert_eq!(used, granted, "the counter is exactly what was granted");
    assert!(used <= MAX);
    // 8 × 40 takes of 2 on average ask for 640: the limit was reached, give
    // or take the last take that did not fit.
    assert!(used > MAX - 3.0, "takes were refused too early: {used}");
}

fn vote(approver: &str, at_ms: i64) -> Vote {
    Vote {
        approver: approver.into(),
        roles: vec!["finance".into()],
        approve: true,
        comment: Some("ok ✓".into()),
        at_ms,
    }
}

fn approvals_create_list_and_round_trip(s: Arc<dyn StateStore>) {
    assert_eq!(s.approval("apr_1").unwrap(), None);
    let a1 = approval("apr_1", "acme", 1_000);
    let a2 = approval("apr_2", "globex", 2_000);
    let a3 = approval("apr_3", "acme", 3_000);
    for a in [&a2, &a1, &a3] {
        s.create_approval(a).unwrap();
    }
    // Creating again keeps the stored record.
    let replay = ApprovalRecord {
        message: "changed".into(),
        ..a1.clone()
    };
    s.create_approval(&replay).unwrap();
    assert_eq!(s.approval("apr_1").unwrap(), Some(a1.clone()));
    assert_eq!(
        s.approvals(None).unwrap(),
        vec![a3.clone(), a2.clone(), a1.clone()]
    );
    assert_eq!(s.approvals(Some("acme")).unwrap(), vec![a3, a1]);
    assert_eq!(s.approvals(Some("globex")).unwrap(), vec![a2]);
    assert!(s.approvals(Some("initech")).unwrap().is_empty());
}

fn approvals_are_found_by_their_call(s: Arc<dyn StateStore>) {
    let a1 = approval("apr_1", "acme", 1_000);
    let mut other_call = approval("apr_2", "acme", 2_000);
    other_call.request_digest = format!("sha256:{}", "cc".repeat(32));
    let other_tenant = approval("apr_3", "globex", 3_000);
    let a4 = approval("apr_4", "acme", 4_000);
    for a in [&a1, &other_call, &other_tenant, &a4] {
        s.create_approval(a).unwrap();
    }
    let d = a1.request_digest.clone();
    assert_eq!(
        s.approvals_for_call("acme", &d).unwrap(),
        vec![a4.clone(), a1.clone()]
    );
    assert_eq!(
        s.approvals_for_call("globex", &d).unwrap(),
        vec![other_tenant]
    );
    assert_eq!(
        s.approvals_for_call("acme", &other_call.request_digest)
            .unwrap(),
        vec![other_call]
    );
    assert!(s.approvals_for_call("initech", &d).unwrap().is_empty());
    // A vote leaves the approval on its call.
    let mut voted = a1.clone();
    voted.votes.push(vote("fin-1", 1_500));
    assert!(s.update_approval(&a1, &voted).unwrap());
    assert_eq!(s.approvals_for_call("acme", &d).unwrap(), vec![a4, voted]);
}

fn approvals_compare_and_swap(s: Arc<dyn StateStore>) {
    let a = approval("apr_1", "acme", 1_000);
    s.create_approval(&a).unwrap();
    let mut one = a.clone();
    one.votes.push(vote("f-1", 1_100));
    assert!(s.update_approval(&a, &one).unwrap());
    assert_eq!(s.approval("apr_1").unwrap(), Some(one.clone()));
    // A vote made against the old record loses: the record changed.
    let mut stale = a.clone();
    stale.votes.push(vote("f-2", 1_200));
    assert!(!s.update_approval(&a, &stale).unwrap());
    assert_eq!(s.approval("apr_1").unwrap(), Some(one.clone()));
    let mut two = one.clone();
    two.votes.push(vote("f-2", 1_200));
    two.status = ApprovalStatus::Approved;
    assert!(s.update_approval(&one, &two).unwrap());
    assert_eq!(s.approval("apr_1").unwrap(), Some(two.clone()));
    // Unknown ids swap nothing.
    let ghost = approval("apr_ghost", "acme", 1);
    assert!(!s.update_approval(&ghost, &ghost).unwrap());

    // Concurrent voters on one record: exactly one swap wins.
    let b = approval("apr_race", "acme", 2_000);
    s.create_approval(&b).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (s, barrier, b) = (Arc::clone(&s), Arc::clone(&barrier), b.clone());
            thread::spawn(move || {
                let mut next = b.clone();
                next.votes.push(vote(&format!("f-{t}"), 2_100));
                barrier.wait();
                s.update_approval(&b, &next).unwrap().then_some(next)
            })
        })
        .collect();
    let winners: Vec<ApprovalRecord> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(s.approval("apr_race").unwrap().as_ref(), winners.first());
}

fn bundle(digest: &str, uploaded_ms: i64) -> BundleRecord {
    BundleRecord {
        digest: digest.into(),
        name: "support".into(),
        version: "1.0.0".into(),
        files: vec![
            (
                "bundle.yaml".into(),
                "ward: 1\n# ünïcode \"quotes\"\n".into(),
            ),
            ("extra.yaml".into(), "rules: []\n".into()),
        ],
        signature: Some(r#"{"digest":"x","key_id":"k","signature":"s"}"#.into()),
        uploaded_ms,
    }
}

fn bundles_archive_and_activate(s: Arc<dyn StateStore>) {
    assert!(s.bundles().unwrap().is_empty());
    assert_eq!(s.active_bundle().unwrap(), None);
    let old = bundle("sha256:01", 1_000);
    let new = BundleRecord {
        signature: None,
        ..bundle("sha256:02", 2_000)
    };
    s.put_bundle(&old).unwrap();
    s.put_bundle(&new).unwrap();
    // Re-uploading is harmless: the first record stays.
    s.put_bundle(&bundle("sha256:01", 9_000)).unwrap();
    assert_eq!(s.bundle("sha256:01").unwrap(), Some(old.clone()));
    assert_eq!(s.bundle("sha256:02").unwrap(), Some(new.clone()));
    assert_eq!(s.bundle("sha256:03").unwrap(), None);
    let listed = s.bundles().unwrap();
    let without_files = |b: &BundleRecord| BundleRecord {
        files: Vec::new(),
        ..b.clone()
    };
    assert_eq!(listed, vec![without_files(&new), without_files(&old)]);
    // Activating an unknown digest is an error and changes nothing.
    assert!(s.activate_bundle("sha256:03", 3_000).is_err());
    assert_eq!(s.active_bundle().unwrap(), None);
    s.activate_bundle("sha256:01", 3_000).unwrap();
    assert_eq!(s.active_bundle().unwrap().as_deref(), Some("sha256:01"));
    assert!(s.activate_bundle("sha256:03", 3_500).is_err());
    assert_eq!(s.active_bundle().unwrap().as_deref(), Some("sha256:01"));
    s.activate_bundle("sha256:02", 4_000).unwrap();
    assert_eq!(s.active_bundle().unwrap().as_deref(), Some("sha256:02"));
    s.activate_bundle("sha256:01", 5_000).unwrap();
    assert_eq!(s.active_bundle().unwrap().as_deref(), Some("sha256:01"));
}

// PostgreSQL only: the schema, the version check and reconnecting.

#[test]
fn postgres_schema_is_created_once_and_version_checked() {
    let db = TempDb::new("ward_state_test");
    let first = PgState::connect(&db.conninfo()).unwrap();
    first
        .put_switch(&switch(SwitchKind::Kill, Scope::Global, "x"))
        .unwrap();
    // Several nodes starting at once over an existing schema.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let info = db.conninfo();
            thread::spawn(move || PgState::connect_pool(&info, 2).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let second = PgState::connect(&db.conninfo()).unwrap();
    assert_eq!(second.switches().unwrap().len(), 1);
    db.execute("UPDATE ward_state_meta SET version = 99");
    let err = PgState::connect(&db.conninfo()).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn postgres_reconnects_after_its_connections_are_killed() {
    let db = TempDb::new("ward_state_test");
    let s = PgState::connect_pool(&db.conninfo(), 3).unwrap();
    // Open every pooled connection.
    let barrier = Arc::new(Barrier::new(3));
    let s = Arc::new(s);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..20 {
                    s.switches().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(db.terminate_backends() >= 1);
    // Reads and idempotent writes retry once on a fresh connection.
    for i in 0..6 {
        s.put_switch(&switch(
            SwitchKind::Kill,
            Scope::Tenant(format!("t{i}")),
            "x",
        ))
        .unwrap();
        assert_eq!(s.switches().unwrap().len(), i + 1);
    }
    // A take is repeated only when the server said the session ended (so
    // the statement did not run); if the socket just broke it fails, once
    // per stale connection at most, and the next call reconnects.
    assert!(db.terminate_backends() >= 1);
    let mut failed = Vec::new();
    let mut taken = 0.0;
    for i in 0..10 {
        match s.limit_take("k", 0, 1.0, 100.0) {
            Ok(LimitTake::Taken { .. }) => taken += 1.0,
            Ok(LimitTake::Refused { .. }) => panic!("refused under the maximum"),
            Err(_) => failed.push(i),
        }
    }
    assert!(failed.iter().all(|&i| i < 3), "failed calls: {failed:?}");
    let used = s.limit_used("k", 0).unwrap();
    assert!(
        used >= taken && used <= taken + failed.len() as f64,
        "{used} used, {taken} granted"
    );
    assert!(taken >= 7.0);
}
