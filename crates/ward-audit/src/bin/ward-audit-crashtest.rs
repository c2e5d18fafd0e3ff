//! A writer under load for the crash test: appends from several threads and
//! prints every acknowledged receipt (base64 of the receipt text, one per
//! line) to stdout. The test kills it with SIGKILL at random moments.
//!
//! Usage: `ward-audit-crashtest DB KEYFILE THREADS`

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ward_audit::entry::{ExecutionStatement, ExecutionStatus, V1};
use ward_audit::{load_key, Entry, SqliteStore, Statement, Timestamp, Writer, WriterConfig};
use ward_core::Digest;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(key_file), Some(threads)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: ward-audit-crashtest DB KEYFILE THREADS");
    };
    let threads: usize = threads.parse()?;
    let key = load_key(&PathBuf::from(key_file))?;
    let store = SqliteStore::open(&PathBuf::from(db))?;
    let writer = Arc::new(Writer::start(
        Box::new(store),
        key,
        Arc::new(Timestamp::now),
        WriterConfig::default(),
    )?);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let writer = Arc::clone(&writer);
            let out = Arc::clone(&out);
            std::thread::spawn(move || -> anyhow::Result<()> {
                let tenant = if t % 2 == 0 { "acme" } else { "beta" };
                for n in 0u64.. {
                    let entry = Entry::new(Statement::Execution(ExecutionStatement {
                        v: V1,
                        tenant: tenant.to_owned(),
                        time: Timestamp::now().to_string(),
                        decision_id: format!("d-{t}-{n}"),
                        session: format!("s-{t}"),
                        tool: "refund".to_owned(),
                        result_digest: Digest::of_bytes(&n.to_be_bytes()),
                        status: ExecutionStatus::Ok,
                        duration_ms: n,
                    }))?;
                    let receipt = writer.append_blocking(entry)?;
                    let line = base64::engine::general_purpose::STANDARD.encode(receipt.encode());
                    let mut out = out
                        .lock()
                        .map_err(|_| anyhow::anyhow!("stdout lock poisoned"))?;
                    writeln!(out, "{line}")?;
                    out.flush()?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("appender panicked"))??;
    }
    Ok(())
}
