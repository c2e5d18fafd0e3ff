//! SQLite state with hooks that hold chosen calls, to put a race in a
//! known order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ward_engine::{
    AgentRecord, ApiKeyRecord, ApprovalRecord, BreakGlass, BundleRecord, IdemClaim, LimitTake,
    Scope, SqliteState, StateError, StateStore, Switch, SwitchKind,
};

/// Holds the next `active_bundle` read after it has read the store: it
/// sends on `read`, then waits for `go`.
pub struct Hold {
    pub read: SyncSender<()>,
    pub go: Receiver<()>,
}

/// SQLite state whose approval lookups stall while `slow` is set, whose
/// next `active_bundle` read waits on `hold` when one is set, whose next
/// bundle activation waits on `hold_activation` (after the store took it)
/// when one is set, which cannot store a new approval while
/// `refuse_approvals` is set, and which cannot switch the active bundle
/// while `refuse_activation` is set.
pub struct Stalling {
    pub inner: SqliteState,
    pub slow: Arc<AtomicBool>,
    pub hold: Arc<Mutex<Option<Hold>>>,
    pub hold_activation: Arc<Mutex<Option<Hold>>>,
    pub refuse_approvals: Arc<AtomicBool>,
    pub refuse_activation: Arc<AtomicBool>,
}

impl Stalling {
    pub fn new(inner: SqliteState) -> Stalling {
        Stalling {
            inner,
            slow: Arc::default(),
            hold: Arc::default(),
            hold_activation: Arc::default(),
            refuse_approvals: Arc::default(),
            refuse_activation: Arc::default(),
        }
    }
}

impl StateStore for Stalling {
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StateError> {
        self.inner.put_api_key(key)
    }
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StateError> {
        self.inner.api_keys()
    }
    fn put_agent(&self, agent: &AgentRecord) -> Result<(), StateError> {
        self.inner.put_agent(agent)
    }
    fn agents(&self) -> Result<Vec<AgentRecord>, StateError> {
        self.inner.agents()
    }
    fn put_switch(&self, switch: &Switch) -> Result<(), StateError> {
        self.inner.put_switch(switch)
    }
    fn clear_switch(&self, kind: SwitchKind, scope: &Scope) -> Result<bool, StateError> {
        self.inner.clear_switch(kind, scope)
    }
    fn switches(&self) -> Result<Vec<Switch>, StateError> {
        self.inner.switches()
    }
    fn put_break_glass(&self, grant: &BreakGlass) -> Result<(), StateError> {
        self.inner.put_break_glass(grant)
    }
    fn break_glass(&self, now_ms: i64) -> Result<Vec<BreakGlass>, StateError> {
        self.inner.break_glass(now_ms)
    }
    fn idem_claim(
        &self,
        tenant: &str,
        key: &str,
        digest: &str,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<IdemClaim, StateError> {
        self.inner
            .idem_claim(tenant, key, digest, now_ms, expire_before_ms)
    }
    fn idem_finish(&self, tenant: &str, key: &str, decision: &str) -> Result<(), StateError> {
        self.inner.idem_finish(tenant, key, decision)
    }
    fn idem_release(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        self.inner.idem_release(tenant, key)
    }
    fn idem_purge(&self, expire_before_ms: i64, most: u32) -> Result<u64, StateError> {
        self.inner.idem_purge(expire_before_ms, most)
    }
    fn limit_take(
        &self,
        key: &str,
        start: i64,
        amount: f64,
        max: f64,
    ) -> Result<LimitTake, StateError> {
        self.inner.limit_take(key, start, amount, max)
    }
    fn limit_used(&self, key: &str, start: i64) -> Result<f64, StateError> {
        self.inner.limit_used(key, start)
    }
    fn create_approval(&self, approval: &ApprovalRecord) -> Result<(), StateError> {
        if self.refuse_approvals.load(Ordering::SeqCst) {
            return Err(StateError("disk I/O error (the test's)".to_owned()));
        }
        self.inner.create_approval(approval)
    }
    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StateError> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(3));
        }
        self.inner.approval(id)
    }
    fn approvals(&self, tenant: Option<&str>) -> Result<Vec<ApprovalRecord>, StateError> {
        self.inner.approvals(tenant)
    }
    fn approvals_for_call(
        &self,
        tenant: &str,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StateError> {
        self.inner.approvals_for_call(tenant, request_digest)
    }
    fn update_approval(
        &self,
        old: &ApprovalRecord,
        new: &ApprovalRecord,
    ) -> Result<bool, StateError> {
        self.inner.update_approval(old, new)
    }
    fn put_bundle(&self, bundle: &BundleRecord) -> Result<(), StateError> {
        self.inner.put_bundle(bundle)
    }
    fn bundle(&self, digest: &str) -> Result<Option<BundleRecord>, StateError> {
        self.inner.bundle(digest)
    }
    fn bundles(&self) -> Result<Vec<BundleRecord>, StateError> {
        self.inner.bundles()
    }
    fn activate_bundle(&self, digest: &str, now_ms: i64) -> Result<(), StateError> {
        if self.refuse_activation.load(Ordering::SeqCst) {
            return Err(StateError("disk I/O error (the test's)".to_owned()));
        }
        let done = self.inner.activate_bundle(digest, now_ms);
        let hold = self.hold_activation.lock().ok().and_then(|mut h| h.take());
        if let Some(hold) = hold {
            let _ = hold.read.send(());
            let _ = hold.go.recv();
        }
        done
    }
    fn active_bundle(&self) -> Result<Option<String>, StateError> {
        let read = self.inner.active_bundle();
        let hold = self.hold.lock().ok().and_then(|mut h| h.take());
        if let Some(hold) = hold {
            let _ = hold.read.send(());
            let _ = hold.go.recv();
        }
        read
    }
}
