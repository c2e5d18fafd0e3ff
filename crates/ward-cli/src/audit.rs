//! `ward keys` and `ward audit`: log signing keys, and reading the audit log.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use ward_audit::{ArgFilter, Filter, SqliteStore, Timestamp};

use crate::files::write_out;
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Write a new Ed25519 log signing key (mode 0600) and print its verifier key.
    Generate {
        /// Key name, the first part of every log origin it signs (e.g. `ward.example/node-1`).
        #[arg(long)]
        name: String,
        /// Where to write the private key. It must not exist.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Find entries of a tenant's logs; the answer names the checkpoints that bound it.
    Query(QueryArgs),
    /// Write a tenant's logs as directories that `ward-verify log` checks.
    Export {
        /// The SQLite audit database.
        #[arg(long)]
        db: PathBuf,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// An empty or new directory; one subdirectory is written per log.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify every entry, node and checkpoint of a tenant's logs in the database.
    Check {
        /// The SQLite audit database.
        #[arg(long)]
        db: PathBuf,
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    /// The SQLite audit database.
    #[arg(long)]
    db: PathBuf,
    /// The tenant (required).
    #[arg(long)]
    tenant: String,
    /// Recorded at or after this UTC time: `2026-07-01` or `2026-07-01T00:00:00Z`.
    #[arg(long)]
    from: Option<String>,
    /// Recorded before this UTC time.
    #[arg(long)]
    until: Option<String>,
    /// Tool name.
    #[arg(long)]
    tool: Option<String>,
    /// Outcome, such as `allow` or `require_approval`.
    #[arg(long)]
    outcome: Option<String>,
    /// A rule id among the reasons.
    #[arg(long)]
    rule: Option<String>,
    /// Principal id.
    #[arg(long)]
    principal: Option<String>,
    /// Agent id.
    #[arg(long)]
    agent: Option<String>,
    /// A condition on an indexed argument: `amount>500`, `currency=USD` (ops: = != < <= > >=).
    #[arg(long = "arg")]
    args: Vec<String>,
    /// At most this many entries.
    #[arg(long)]
    limit: Option<u64>,
}

pub(crate) fn run_keys(cmd: KeysCommand, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    match cmd {
        KeysCommand::Generate { name, out: path } => {
            let verifier = ward_audit::generate_key(&name, &path)
                .map_err(|e| Failure::input(e.to_string()))?;
            write_out(out, &format!("{verifier}\n"))
        }
    }
}

pub(crate) fn run_audit(cmd: AuditCommand, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    match cmd {
        AuditCommand::Query(args) => query(&args, out),
        AuditCommand::Export {
            db,
            tenant,
            out: dir,
        } => {
            let mut store = open(&db)?;
            let logs = ward_audit::export(&mut store, &tenant, &dir)
                .map_err(|e| Failure::failed(e.to_string()))?;
            let mut text = String::new();
            for (origin, path) in &logs {
                let _ = writeln!(text, "{origin} -> {}", path.display());
            }
            if logs.is_empty() {
                return Err(Failure::failed(format!(
                    "tenant `{tenant}` has no log in {}",
                    db.display()
                )));
            }
            write_out(out, &text)
        }
        AuditCommand::Check { db, tenant } => {
            let mut store = open(&db)?;
            let reports = ward_audit::check(&mut store, &tenant)
                .map_err(|e| Failure::failed(e.to_string()))?;
            let mut text = String::new();
            for r in &reports {
                let closed = if r.closed { ", closed by rotation" } else { "" };
                let _ = writeln!(
                    text,
                    "ok: {} holds {} entries, {} checkpoints{closed}",
                    r.origin, r.size, r.checkpoints
                );
            }
            if reports.is_empty() {
                return Err(Failure::failed(format!(
                    "tenant `{tenant}` has no log in {}",
                    db.display()
                )));
            }
            write_out(out, &text)
        }
    }
}

fn open(db: &Path) -> Result<SqliteStore, Failure> {
    if !db.is_file() {
        return Err(Failure::input(format!(
            "no audit database at `{}`",
            db.display()
        )));
    }
    SqliteStore::open(db).map_err(|e| Failure::input(e.to_string()))
}

fn time(s: &Option<String>) -> Result<Option<Timestamp>, Failure> {
    s.as_deref()
        .map(|t| {
            Timestamp::parse_bound(t)
                .map_err(|e| Failure::input(format!("`--from`/`--until` `{t}`: {e}")))
        })
        .transpose()
}

fn query(a: &QueryArgs, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let filter = Filter {
        tenant: a.tenant.clone(),
        from: time(&a.from)?,
        until: time(&a.until)?,
        tool: a.tool.clone(),
        outcome: a.outcome.clone(),
        rule: a.rule.clone(),
        principal: a.principal.clone(),
        agent: a.agent.clone(),
        args: a
            .args
            .iter()
            .map(|s| {
                s.parse::<ArgFilter>()
                    .map_err(|e| Failure::input(format!("`--arg`: {e}")))
            })
            .collect::<Result<_, _>>()?,
        limit: a.limit,
        ..Filter::default()
    };
    let mut store = open(&a.db)?;
    let answers =
        ward_audit::query(&mut store, &filter).map_err(|e| Failure::failed(e.to_string()))?;
    let mut text = String::new();
    for answer in answers.iter().filter(|a| !a.entries.is_empty()) {
        let size = |c: &Option<ward_audit::SignedCheckpoint>| {
            c.as_ref().map_or(0, |c| c.checkpoint().size)
        };
        let _ = writeln!(
            text,
            "# log {}: {} entries, bounded by checkpoints at sizes {} and {}",
            answer.origin,
            answer.entries.len(),
            size(&answer.lower),
            size(&answer.upper)
        );
        for (index, entry) in &answer.entries {
            let _ = writeln!(text, "{index}\t{}", String::from_utf8_lossy(entry.bytes()));
        }
    }
    if answers.iter().all(|a| a.entries.is_empty()) {
        text.push_str("# no entries match\n");
    }
    write_out(out, &text)
}
