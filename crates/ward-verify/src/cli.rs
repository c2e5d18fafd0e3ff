//! The command line: `ward-verify receipt|log|consistency`.
//!
//! Exit status is the contract scripts rely on: 0 only when everything
//! verified, 1 when some evidence did not verify (the message says what and
//! where), 2 when the invocation itself was wrong.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::VerifyError;
use crate::note::VerifierKey;

const KEY_HELP: &str = "The log's verifier key `<name>+<key id hex>+<base64 key>`, \
or `@PATH` to read it from a file (surrounding whitespace ignored)";

/// Verify Ward audit evidence offline, trusting nothing but a public key.
///
/// Formats are specified in docs/receipt-format.md. Exit status: 0 when
/// everything verifies, 1 when some evidence does not verify, 2 on a usage
/// error.
#[derive(Debug, Parser)]
#[command(name = "ward-verify", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify one receipt (a c2sp.org/tlog-proof@v1 text carrying its entry).
    ///
    /// Checks that the entry is a valid v1 statement, that the checkpoint is
    /// signed by KEY for an origin of KEY and the entry's tenant, and that
    /// the inclusion proof places exactly this entry at the stated index.
    Receipt {
        /// The receipt file (`.tlog-proof`), or `-` for standard input.
        file: PathBuf,
        #[arg(long, help = KEY_HELP)]
        key: String,
    },
    /// Verify a whole log export directory written by `ward audit export`.
    ///
    /// Checks every checkpoint's signature, that the tree recomputed from
    /// all entries matches every checkpoint at its size, that sizes never
    /// decrease, that every entry is a valid v1 statement of the origin's
    /// tenant, every supplied consistency proof, and the rotation chain.
    Log {
        /// The export directory.
        dir: PathBuf,
        #[arg(long, help = KEY_HELP)]
        key: String,
    },
    /// Verify that checkpoint NEW extends checkpoint OLD (no fork, no rewrite).
    ///
    /// Both must be signed by KEY for the same origin. Equal sizes need equal
    /// roots; different sizes need a consistency proof file.
    Consistency {
        /// The older signed checkpoint.
        old: PathBuf,
        /// The newer signed checkpoint.
        new: PathBuf,
        #[arg(long, help = KEY_HELP)]
        key: String,
        /// A `ward/consistency-proof@v1` file from OLD's size to NEW's size.
        #[arg(long)]
        proof: Option<PathBuf>,
    },
}

/// Why the command did not succeed.
enum Outcome {
    Usage(String),
    Failed(VerifyError),
}

impl From<VerifyError> for Outcome {
    fn from(e: VerifyError) -> Outcome {
        if e.is_usage() {
            Outcome::Usage(e.to_string())
        } else {
            Outcome::Failed(e)
        }
    }
}

/// Runs the binary: parses `std::env::args`, verifies, prints, and returns
/// the exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(message) => {
            let _ = writeln!(std::io::stdout(), "ok: {message}");
            ExitCode::SUCCESS
        }
        Err(Outcome::Failed(e)) => {
            let _ = writeln!(std::io::stderr(), "ward-verify: verification FAILED: {e}");
            ExitCode::from(1)
        }
        Err(Outcome::Usage(m)) => {
            let _ = writeln!(std::io::stderr(), "ward-verify: error: {m}");
            ExitCode::from(2)
        }
    }
}

fn load_key(arg: &str) -> Result<VerifierKey, Outcome> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Outcome::Usage(format!("cannot read key file `{path}`: {e}")))?,
        None => arg.to_owned(),
    };
    VerifierKey::parse(text.trim()).map_err(|e| Outcome::Usage(format!("--key: {e}")))
}

/// Reads an argument file; a file that cannot be opened is a usage error.
fn read_arg(path: &Path) -> Result<Vec<u8>, Outcome> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Outcome::Usage(format!("cannot read standard input: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path)
        .map_err(|e| Outcome::Usage(format!("cannot read `{}`: {e}", path.display())))
}

fn run(cli: Cli) -> Result<String, Outcome> {
    match cli.command {
        Command::Receipt { file, key } => {
            let key = load_key(&key)?;
            let bytes = read_arg(&file)?;
            let r = crate::receipt::verify_receipt(&bytes, &key, &file.display().to_string())?;
            Ok(format!(
                "receipt: `{}` entry {} ({}) is in the log at tree size {}",
                r.origin,
                r.index,
                r.kind.as_str(),
                r.size
            ))
        }
        Command::Log { dir, key } => {
            let key = load_key(&key)?;
            if !dir.is_dir() {
                return Err(Outcome::Usage(format!(
                    "`{}` is not a directory",
                    dir.display()
                )));
            }
            let log = crate::export::verify_log(&dir, &key)
                .map_err(|e| Outcome::from(e.under(&dir.display().to_string())))?;
            let mut message = format!(
                "log: `{}` holds {} entries, consistent with all {} checkpoints ({} proof files)",
                log.origin, log.size, log.checkpoints, log.proofs
            );
            if let Some(p) = log.previous {
                message.push_str(&format!(
                    "; continues `{}` at size {} (key `{}`)",
                    p.origin,
                    p.size,
                    p.key.to_vkey_string()
                ));
            }
            Ok(message)
        }
        Command::Consistency {
            old,
            new,
            key,
            proof,
        } => {
            let key = load_key(&key)?;
            let old_bytes = read_arg(&old)?;
            let new_bytes = read_arg(&new)?;
            let proof_bytes = proof.as_deref().map(read_arg).transpose()?;
            let old_name = old.display().to_string();
            let new_name = new.display().to_string();
            let proof_name = proof.as_ref().map(|p| p.display().to_string());
            let proof_arg = match (&proof_bytes, &proof_name) {
                (Some(b), Some(n)) => Some((b.as_slice(), n.as_str())),
                _ => None,
            };
            let (o, n) = crate::consistency::verify_consistency_files(
                (&old_bytes, &old_name),
                (&new_bytes, &new_name),
                proof_arg,
                &key,
            )?;
            Ok(format!(
                "consistency: `{}` at size {} extends size {}",
                n.origin, n.size, o.size
            ))
        }
    }
}
