//! The engine: shared state, caches and the active bundle.
//!
//! Hot-path state (API keys, the registry, switches, break-glass grants and
//! the active bundle) is cached and refreshed from the store every
//! `refresh_interval`, so a kill switch set on one node takes effect on all
//! of them within that interval. If the store cannot be read for
//! `stale_after`, every decision is a deny (`policy_unavailable`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ward_audit::{Timestamp, Writer};
use ward_policy::Compiled;
use ward_scan::{DefaultScanners, ProvenanceConfig, ProvenanceIndex};

use crate::breaker::{BreakerConfig, Breakers};
use crate::identity::{check_api_key, on_behalf, ApiKeyRecord, AuthError, Credentials, Identity};
use crate::registry::AgentRecord;
use crate::state::{BundleRecord, StateError, StateStore};
use crate::switches::{BreakGlass, Switch};

/// The engine's clock: Unix milliseconds. Injected, so tests and replays
/// control time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| i64::try_from(Timestamp::now().unix_millis()).unwrap_or(i64::MAX))
}

/// Verifies a bearer token that is not an API key: a human's JWT.
pub trait TokenVerifier: Send + Sync + std::fmt::Debug {
    /// The identity a token establishes at `now_secs`.
    fn verify(&self, token: &str, now_secs: i64) -> Result<Identity, AuthError>;
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The most a decision may take; past it the answer is a deny (`timeout`).
    pub decision_budget: Duration,
    /// How often cached state is reloaded from the store.
    pub refresh_interval: Duration,
    /// How long the cache may go without a successful reload before every
    /// decision is a deny.
    pub stale_after: Duration,
    /// How long an idempotency key is remembered.
    pub idempotency_ttl: Duration,
    /// How often the refresh loop deletes the idempotency records older
    /// than `idempotency_ttl`, which count as absent already.
    pub purge_interval: Duration,
    /// Circuit breaker settings.
    pub breaker: BreakerConfig,
    /// Provenance index bounds.
    pub provenance: ProvenanceConfig,
    /// A bundle must be signed by one of these keys (`ward-ed25519:...`) to be
    /// uploaded; empty accepts unsigned bundles.
    pub trusted_bundle_keys: Vec<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            decision_budget: Duration::from_millis(500),
            refresh_interval: Duration::from_millis(250),
            stale_after: Duration::from_secs(3),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            purge_interval: Duration::from_secs(60),
            breaker: BreakerConfig::default(),
            provenance: ProvenanceConfig::default(),
            trusted_bundle_keys: Vec::new(),
        }
    }
}

/// The active bundle: compiled once, shared by every decision in flight.
#[derive(Debug)]
pub struct ActiveBundle {
    /// The compiled bundle.
    pub compiled: Compiled,
    /// Its archive record (without files).
    pub record: BundleRecord,
}

/// Cached state, replaced whole on each refresh.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub(crate) keys: HashMap<String, ApiKeyRecord>,
    pub(crate) agents: HashMap<(String, String), AgentRecord>,
    pub(crate) switches: Vec<Switch>,
    pub(crate) break_glass: Vec<BreakGlass>,
    pub(crate) refreshed_ms: i64,
    /// The refresh that read it: a cache replaces only an older one.
    ticket: u64,
}

/// The background state refresh. Dropping it leaves the refresh running
/// until the engine is dropped; [`RefreshTask::stop`] ends it sooner.
#[derive(Debug)]
pub struct RefreshTask {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RefreshTask {
    /// Ends the refresh loop at its next tick.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Why the engine could not start or an operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The audit log failed.
    #[error("audit log: {0}")]
    Audit(String),
    /// A bundle was refused.
    #[error("bundle refused: {0}")]
    Bundle(String),
    /// The caller is not allowed to do this.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is malformed or refers to nothing.
    #[error("{0}")]
    Invalid(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
}

pub(crate) struct Inner {
    pub(crate) state: Arc<dyn StateStore>,
    pub(crate) audit: Writer,
    pub(crate) clock: Clock,
    pub(crate) config: EngineConfig,
    pub(crate) tokens: Option<Arc<dyn TokenVerifier>>,
    pub(crate) cache: RwLock<Arc<Cache>>,
    /// Refreshes started, each one's ticket: two refreshes can finish in
    /// the other order than they read, and the one that read first must
    /// not put back what the other's read had already replaced (an API key
    /// created in between would be unknown until the next refresh).
    refreshes: std::sync::atomic::AtomicU64,
    pub(crate) bundle: RwLock<BundleSlot>,
    /// Held by an activation (the API's, or the operator's bundle path at
    /// start and on hot reload) across its store write and its swap, so
    /// that two at once cannot leave this node on one bundle and the store
    /// on the other.
    pub(crate) activation: tokio::sync::Mutex<()>,
    pub(crate) scanners: DefaultScanners,
    pub(crate) provenance: Mutex<ProvenanceIndex>,
    pub(crate) breakers: Mutex<Breakers>,
}

/// The bundle new decisions use, and how many times it was swapped: a
/// refresh that read the store before a swap must not undo that swap.
#[derive(Default)]
pub(crate) struct BundleSlot {
    active: Option<Arc<ActiveBundle>>,
    swaps: u64,
}

/// The decision engine. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Runs a store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Arc<dyn StateStore>,
    f: impl FnOnce(&dyn StateStore) -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || f(state.as_ref()))
        .await
        .map_err(|e| StateError(format!("state task failed: {e}")))?
}

/// Purges expired idempotency records batch after batch, until a batch
/// comes back short, the engine is dropped or its refresh is stopped. The
/// engine is held only while a batch runs.
async fn purge_all(weak: std::sync::Weak<Inner>, stopped: Arc<std::sync::atomic::AtomicBool>) {
    const EACH: u32 = 256;
    loop {
        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let Some(inner) = weak.upgrade() else { return };
        let engine = Engine { inner };
        let purged = engine.purge_expired(EACH).await;
        // As in the refresh loop: a PostgreSQL client is dropped off the
        // async thread.
        let _ = tokio::task::spawn_blocking(move || drop(engine)).await;
        match purged {
            Ok(n) if n == u64::from(EACH) => {}
            Ok(_) => return,
            // Tried again at the next interval.
            Err(e) => {
                eprintln!("ward: cannot purge expired idempotency records: {e}");
                return;
            }
        }
    }
}

impl Engine {
    /// Starts an engine over a state store and an audit writer: loads the
    /// cache and the active bundle. If `bundle` is given it is archived and
    /// activated first (this is `ward serve --bundle`).
    pub async fn start(
        state: Arc<dyn StateStore>,
        audit: Writer,
        clock: Clock,
        config: EngineConfig,
        tokens: Option<Arc<dyn TokenVerifier>>,
        bundle: Option<BundleRecord>,
    ) -> Result<Engine, EngineError> {
        let provenance = ProvenanceIndex::new(config.provenance);
        let breakers = Breakers::new(config.breaker);
        let engine = Engine {
            inner: Arc::new(Inner {
                state,
                audit,
                clock,
                config,
                tokens,
                cache: RwLock::new(Arc::new(Cache::default())),
                refreshes: std::sync::atomic::AtomicU64::new(0),
                bundle: RwLock::new(BundleSlot::default()),
                activation: tokio::sync::Mutex::new(()),
                scanners: DefaultScanners::new(),
                provenance: Mutex::new(provenance),
                breakers: Mutex::new(breakers),
            }),
        };
        if let Some(record) = bundle {
            engine.install_bundle(record).await?;
        }
        engine.refresh().await?;
        Ok(engine)
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.inner.clock)()
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The audit writer's verifier key, for `ward-verify`.
    pub fn verifier_key(&self) -> String {
        self.inner.audit.verifier().to_string()
    }

    /// The state store.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.state
    }

    /// The active bundle, if any.
    pub fn active_bundle(&self) -> Option<Arc<ActiveBundle>> {
        self.inner.bundle.read().ok().and_then(|b| b.active.clone())
    }

    /// How old the cached state is, and whether decisions are denied for it
    /// (`policy_unavailable`): what a readiness probe needs.
    pub fn state_age(&self) -> (Duration, bool) {
        let age = self.now_ms().saturating_sub(self.cache().refreshed_ms);
        let age = Duration::from_millis(u64::try_from(age).unwrap_or(0));
        (age, age > self.inner.config.stale_after)
    }

    pub(crate) fn cache(&self) -> Arc<Cache> {
        self.inner
            .cache
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_default()
    }

    /// Reloads cached state and, if another node activated a different
    /// bundle, that bundle. Called at `refresh_interval` by
    /// [`Engine::spawn_refresh`], and after every local write.
    pub async fn refresh(&self) -> Result<(), EngineError> {
        let ticket = 1 + self
            .inner
            .refreshes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let now = self.now_ms();
        // Read before the store: a local activation that lands after this
        // read is newer than what the store answers here.
        let swaps = self.bundle_swaps();
        let (keys, agents, switches, break_glass, active) = blocking(&self.inner.state, move |s| {
            Ok((
                s.api_keys()?,
                s.agents()?,
                s.switches()?,
                s.break_glass(now)?,
                s.active_bundle()?,
            ))
        })
        .await?;
        let current = self.active_bundle().map(|b| b.record.digest.clone());
        if let Some(digest) = active.filter(|d| Some(d) != current.as_ref()) {
            let record = blocking(&self.inner.state, move |s| s.bundle(&digest))
                .await?
                .ok_or_else(|| EngineError::NotFound("active bundle is not archived".into()))?;
            self.swap_bundle(Engine::compile_bundle(record)?, Some(swaps));
        }
        let cache = Cache {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            agents: agents
                .into_iter()
                .map(|a| ((a.id.clone(), a.version.clone()), a))
                .collect(),
            switches,
            break_glass,
            refreshed_ms: now,
            ticket,
        };
        if let Ok(mut slot) = self.inner.cache.write() {
            if slot.ticket < ticket {
                *slot = Arc::new(cache);
            }
        }
        Ok(())
    }

    /// Deletes at most `most` of the idempotency records past
    /// `idempotency_ttl` (which count as absent already), oldest first,
    /// and says how many went. [`Engine::spawn_refresh`] calls it batch
    /// after batch at `purge_interval`.
    pub async fn purge_expired(&self, most: u32) -> Result<u64, EngineError> {
        let ttl = i64::try_from(self.inner.config.idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
        let before = self.now_ms().saturating_sub(ttl);
        Ok(blocking(&self.inner.state, move |s| s.idem_purge(before, most)).await?)
    }

    /// Refreshes in the background until the engine is dropped (or
    /// [`RefreshTask::stop`]). The loop runs on a thread of its own with its
    /// own runtime, so a node flooded with requests still reloads its state
    /// on time: staleness then means the store, not the node's queue.
    pub fn spawn_refresh(&self) -> RefreshTask {
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.config.refresh_interval;
        let purge_every = self.inner.config.purge_interval;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let run = async move {
            let mut purged = tokio::time::Instant::now();
            let mut purge: Option<tokio::task::JoinHandle<()>> = None;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Some(inner) = weak.upgrade() else { break };
                let engine = Engine { inner };
                // A failed refresh leaves the cache aging; decisions deny
                // once it is older than `stale_after`.
                let _ = engine.refresh().await;
                // The purge runs beside the refreshes (this runtime switches
                // between them at every store call), so a long one never
                // lets the cache go stale.
                if purged.elapsed() >= purge_every && purge.as_ref().is_none_or(|p| p.is_finished())
                {
                    purged = tokio::time::Instant::now();
                    purge = Some(tokio::spawn(purge_all(weak.clone(), Arc::clone(&stopped))));
                }
                // This may be the engine's last owner; a synchronous store
                // client (PostgreSQL's) must not be dropped on an async thread.
                let _ = tokio::task::spawn_blocking(move || drop(engine)).await;
            }
            // It stops at its next batch, and holds no engine between two.
            if let Some(purge) = purge {
                let _ = purge.await;
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        match runtime {
            Ok(rt) => {
                let spawned = std::thread::Builder::new()
                    .name("ward-refresh".into())
                    .spawn(move || rt.block_on(run));
                if spawned.is_err() {
                    // No thread: the cache ages and decisions deny once it
                    // is stale, which is the fail-closed answer.
                    eprintln!("ward: cannot start the state refresh thread");
                }
            }
            Err(e) => eprintln!("ward: cannot start the state refresh runtime: {e}"),
        }
        RefreshTask { stop }
    }

    fn bundle_swaps(&self) -> u64 {
        self.inner.bundle.read().map_or(0, |b| b.swaps)
    }

    /// Compiles a bundle record into the form decisions use, checking that
    /// it still compiles to its digest.
    pub(crate) fn compile_bundle(
        mut record: BundleRecord,
    ) -> Result<Arc<ActiveBundle>, EngineError> {
        let sources: Vec<(&str, &str)> = record
            .files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let loaded = ward_policy::load(&sources).map_err(|e| EngineError::Bundle(e.to_string()))?;
        if loaded.compiled.policy().digest != record.digest {
            return Err(EngineError::Bundle(format!(
                "archived bundle {} compiles to digest {}",
                record.digest,
                loaded.compiled.policy().digest
            )));
        }
        record.files.clear();
        Ok(Arc::new(ActiveBundle {
            compiled: loaded.compiled,
            record,
        }))
    }

    /// Makes a compiled bundle the one new decisions use. Decisions in
    /// flight keep the bundle they started with. With `seen`, only if no
    /// other swap happened since the swap count was `seen`; otherwise the
    /// bundle is stale and is dropped.
    pub(crate) fn swap_bundle(&self, active: Arc<ActiveBundle>, seen: Option<u64>) {
        if let Ok(mut slot) = self.inner.bundle.write() {
            if seen.is_none_or(|seen| seen == slot.swaps) {
                slot.active = Some(active);
                slot.swaps += 1;
            }
        }
    }

    /// Archives and activates a bundle without an authorization check: the
    /// operator's own bundle path (`ward serve --bundle` at start and on hot
    /// reload). The API goes through [`Engine::upload_bundle`] and
    /// [`Engine::activate_bundle`] instead. Decisions in flight finish under
    /// the bundle they started with.
    pub async fn install_bundle(&self, record: BundleRecord) -> Result<(), EngineError> {
        crate::bundles::check_signature(&self.inner.config.trusted_bundle_keys, &record)?;
        let _one_at_a_time = self.inner.activation.lock().await;
        let digest = record.digest.clone();
        let now = self.now_ms();
        let stored = record.clone();
        let active = Engine::compile_bundle(record)?;
        blocking(&self.inner.state, move |s| {
            s.put_bundle(&stored)?;
            s.activate_bundle(&digest, now)
        })
        .await?;
        self.swap_bundle(active, None);
        Ok(())
    }

    /// Who the credentials establish.
    pub fn authenticate(&self, creds: &Credentials) -> Result<Identity, AuthError> {
        let bearer = creds.bearer.as_deref().ok_or(AuthError::Missing)?;
        let who = self.token_identity(bearer)?;
        match &creds.on_behalf_of {
            None => Ok(who),
            Some(token) => {
                let human = self.token_identity(token)?;
                on_behalf(who, human)
            }
        }
    }

    fn token_identity(&self, token: &str) -> Result<Identity, AuthError> {
        if token.starts_with("wk_") {
            let cache = self.cache();
            return check_api_key(token, |id| cache.keys.get(id));
        }
        let verifier = self.inner.tokens.as_ref().ok_or_else(|| {
            AuthError::Invalid("JWTs are not accepted: no JWKS configured".into())
        })?;
        verifier.verify(token, self.now_ms().div_euclid(1000))
    }
}
