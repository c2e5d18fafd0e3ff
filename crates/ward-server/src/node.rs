//! One gate node: its data directory, stores, log key and first-start
//! bootstrap, composed into an [`App`].
//!
//! The embedded default keeps everything in the data directory: `state.db`
//! and `audit.db` (SQLite, WAL, `synchronous=FULL`), `log.key` (the audit
//! log's Ed25519 signing key, mode 0600) and, on first start, `admin.key`
//! (an operator API key, mode 0600). With a PostgreSQL store, state and
//! audit live in the database and only the keys stay in the directory, so
//! each node keeps its own log key and therefore its own log shard.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ward_audit::{LogKey, PgStore, SqliteStore, Store, Timestamp, Writer, WriterConfig};
use ward_core::PrincipalKind;
use ward_engine::{
    bundle_record, ApiKeyRecord, BundleRecord, Clock, Engine, EngineConfig, JwksVerifier, PgState,
    SqliteState, StateStore, TokenVerifier, ROLE_ADMIN, ROLE_AUDITOR, ROLE_BREAK_GLASS,
};

use crate::app::App;
use crate::metrics::{DenyRateConfig, Metrics};
use crate::traces::Tracer;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NodeError(pub String);

fn fail(what: &str) -> impl Fn(String) -> NodeError + '_ {
    move |e| NodeError(format!("{what}: {e}"))
}

/// How a node starts.
pub struct NodeConfig {
    /// The data directory (created, mode 0700, if missing).
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string for state and audit; `None` is the
    /// embedded SQLite default.
    pub postgres: Option<String>,
    /// Bundle files to archive and activate at start, `(name, YAML)`.
    /// `None` keeps the store's active bundle.
    pub bundle: Option<Vec<(String, String)>>,
    /// The detached signature JSON of `bundle` (`ward policy sign`), needed
    /// when the engine trusts bundle keys.
    pub bundle_signature: Option<String>,
    /// The bundle to activate when the store has none and none is given.
    pub fallback_bundle: Option<Vec<(String, String)>>,
    /// The name of a log key made on first start (`ward.example/node-1`).
    pub log_name: String,
    /// The JWT verifier for human principals, if any.
    pub tokens: Option<JwksVerifier>,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Audit writer settings; indexed arguments are added from the bundle.
    pub writer: WriterConfig,
    /// The clock; `None` is the system clock.
    pub clock: Option<Clock>,
    /// Deny-rate alert settings.
    pub deny_rate: DenyRateConfig,
    /// OTLP traces.
    pub tracer: Tracer,
}

impl NodeConfig {
    /// The embedded default in `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            data_dir: data_dir.into(),
            postgres: None,
            bundle: None,
            bundle_signature: None,
            fallback_bundle: None,
            log_name: "ward.local/node".to_owned(),
            tokens: None,
            engine: EngineConfig::default(),
            writer: WriterConfig::default(),
            clock: None,
            deny_rate: DenyRateConfig::default(),
            tracer: Tracer::disabled(),
        }
    }
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("data_dir", &self.data_dir)
            .field("postgres", &self.postgres.is_some())
            .finish_non_exhaustive()
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    /// The application to serve.
    pub app: App,
    /// The operator key made on this start (first start only); also
    /// written to `admin.key`.
    pub new_admin_key: Option<String>,
    /// Where the operator key is kept.
    pub admin_key_path: PathBuf,
    refresh: ward_engine::RefreshTask,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.refresh.stop();
    }
}

/// Stores opened before the runtime: the PostgreSQL client is synchronous
/// and runs its own runtime, so it must not be created on an async thread.
pub struct Opened {
    config: NodeConfig,
    state: Arc<dyn StateStore>,
    writer_store: Box<dyn Store>,
    reader: Box<dyn Store>,
    key: LogKey,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

fn private_dir(dir: &Path) -> Result<(), NodeError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| NodeError(format!("cannot create `{}`: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| NodeError(format!("cannot restrict `{}`: {e}", dir.display())))?;
    }
    Ok(())
}

/// Opens the data directory and the stores (blocking; call it outside the
/// async runtime or on its blocking pool).
pub fn open(config: NodeConfig) -> Result<Opened, NodeError> {
    private_dir(&config.data_dir)?;
    let key_path = config.data_dir.join("log.key");
    if !key_path.exists() {
        ward_audit::generate_key(&config.log_name, &key_path)
            .map_err(|e| fail("log key")(e.to_string()))?;
    }
    let key = ward_audit::load_key(&key_path).map_err(|e| fail("log key")(e.to_string()))?;
    let (state, writer_store, reader): (Arc<dyn StateStore>, Box<dyn Store>, Box<dyn Store>) =
        match &config.postgres {
            None => {
                let state = SqliteState::open(&config.data_dir.join("state.db"))
                    .map_err(|e| fail("state store")(e.to_string()))?;
                let audit = config.data_dir.join("audit.db");
                let open =
                    || SqliteStore::open(&audit).map_err(|e| fail("audit store")(e.to_string()));
                (Arc::new(state), Box::new(open()?), Box::new(open()?))
            }
            Some(url) => {
                let state = PgState::connect_pool(url, 8)
                    .map_err(|e| fail("PostgreSQL state")(e.to_string()))?;
                let connect =
                    || PgStore::connect(url).map_err(|e| fail("PostgreSQL audit")(e.to_string()));
                let mut writer = connect()?;
                writer
                    .install_schema()
                    .map_err(|e| fail("PostgreSQL audit schema")(e.to_string()))?;
                (Arc::new(state), Box::new(writer), Box::new(connect()?))
            }
        };
    Ok(Opened {
        config,
        state,
        writer_store,
        reader,
        key,
    })
}

fn indexed_args(files: &[(String, String)]) -> Vec<String> {
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let Ok(loaded) = ward_policy::load(&sources) else {
        return Vec::new();
    };
    let c = &loaded.compiled;
    let mut args: Vec<String> = c
        .tool_names()
        .iter()
        .flat_map(|t| c.indexed_args(t).iter().cloned())
        .collect();
    args.sort();
    args.dedup();
    args
}

/// Writes a new file readable by its owner only (mode 0600); an existing
/// file is never overwritten.
pub fn write_private(path: &Path, text: &str) -> Result<(), NodeError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| NodeError(format!("cannot write `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| NodeError(format!("cannot write `{}`: {e}", path.display())))
}

impl Opened {
    /// Starts the audit writer and the engine, activates the bundle, and on
    /// first start makes the operator key.
    pub async fn start(self) -> Result<Node, NodeError> {
        let Opened {
            config,
            state,
            writer_store,
            reader,
            key,
        } = self;
        let clock = config
            .clock
            .clone()
            .unwrap_or_else(ward_engine::system_clock);
        let now = clock();
        let bundle_files = config.bundle.clone();
        // The store's active bundle, if any, with its files.
        let archived = {
            let s = Arc::clone(&state);
            tokio::task::spawn_blocking(move || match s.active_bundle()? {
                Some(digest) => s.bundle(&digest),
                None => Ok(None),
            })
            .await
            .map_err(|e| NodeError(e.to_string()))?
            .map_err(|e| fail("state store")(e.to_string()))?
        };
        let files = match bundle_files {
            Some(f) => Some((f, config.bundle_signature.clone())),
            None => archived
                .is_none()
                .then(|| config.fallback_bundle.clone().map(|f| (f, None)))
                .flatten(),
        };
        let record: Option<BundleRecord> = files
            .map(|(f, sig)| bundle_record(f, sig, now).map_err(|e| fail("bundle")(e.to_string())))
            .transpose()?;
        // The arguments the bundle that will judge declares indexable.
        let mut writer_config = config.writer.clone();
        if let Some(r) = record.as_ref().or(archived.as_ref()) {
            writer_config.indexed_args.extend(indexed_args(&r.files));
        }
        let audit_clock: ward_audit::Clock = {
            let clock = Arc::clone(&clock);
            Arc::new(move || Timestamp::from_unix_millis(u64::try_from(clock()).unwrap_or(0)))
        };
        let writer = tokio::task::spawn_blocking(move || {
            Writer::start(writer_store, key, audit_clock, writer_config)
        })
        .await
        .map_err(|e| NodeError(e.to_string()))?
        .map_err(|e| fail("audit log")(e.to_string()))?;
        let tokens = config.tokens.map(|t| Arc::new(t) as Arc<dyn TokenVerifier>);
        let engine = Engine::start(state, writer, clock, config.engine, tokens, record)
            .await
            .map_err(|e| fail("engine")(e.to_string()))?;
        let admin_key_path = config.data_dir.join("admin.key");
        let mut new_admin_key = None;
        let no_keys = {
            let s = Arc::clone(engine.state());
            tokio::task::spawn_blocking(move || s.api_keys())
                .await
                .map_err(|e| NodeError(e.to_string()))?
                .map_err(|e| fail("state store")(e.to_string()))?
                .is_empty()
        };
        if no_keys && !admin_key_path.exists() {
            let made = engine
                .bootstrap_api_key(ApiKeyRecord {
                    id: String::new(),
                    hash: String::new(),
                    tenant: "*".into(),
                    principal: "operator".into(),
                    kind: PrincipalKind::User,
                    roles: vec![
                        ROLE_ADMIN.into(),
                        ROLE_AUDITOR.into(),
                        ROLE_BREAK_GLASS.into(),
                    ],
                    agent: None,
                    revoked: false,
                })
                .await
                .map_err(|e| fail("operator key")(e.to_string()))?;
            write_private(&admin_key_path, &format!("{}\n", made.key))?;
            new_admin_key = Some(made.key);
        }
        let refresh = engine.spawn_refresh();
        let metrics = Metrics::new(config.deny_rate).map_err(|e| fail("metrics")(e.to_string()))?;
        let app = App::new(
            engine,
            Arc::new(Mutex::new(reader)),
            Arc::new(metrics),
            config.tracer,
        );
        Ok(Node {
            app,
            new_admin_key,
            admin_key_path,
            refresh,
        })
    }
}

/// The `*.yaml` and `*.yml` files directly inside `dir`, in name order.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let p = entry
            .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?
            .path();
        if p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// A bundle's source files, `(name, YAML)`.
pub type BundleFiles = Vec<(String, String)>;

/// A bundle path's files and, if `PATH.sig` exists (where `ward policy
/// sign` writes it), its detached signature.
pub fn read_signed_bundle(path: &Path) -> Result<(BundleFiles, Option<String>), String> {
    let files = read_bundle(path)?;
    let mut sig = path.as_os_str().to_owned();
    sig.push(".sig");
    let sig = PathBuf::from(sig);
    let signature = if sig.is_file() {
        Some(
            std::fs::read_to_string(&sig)
                .map_err(|e| format!("cannot read `{}`: {e}", sig.display()))?,
        )
    } else {
        None
    };
    Ok((files, signature))
}

/// The YAML files of a bundle path: the file itself, or a directory's
/// top-level `*.yaml` and `*.yml` files in name order.
pub fn read_bundle(path: &Path) -> Result<Vec<(String, String)>, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))
    };
    if !path.is_dir() {
        return Ok(vec![(path.display().to_string(), read(path)?)]);
    }
    let files = yaml_files(path)?;
    if files.is_empty() {
        return Err(format!("`{}` holds no .yaml files", path.display()));
    }
    files
        .iter()
        .map(|f| Ok((f.display().to_string(), read(f)?)))
        .collect()
}
