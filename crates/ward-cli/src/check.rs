//! `ward check`: one request, one decision.

use std::path::PathBuf;

use clap::Args;

use crate::files::{load_bundle, read_facts, read_request, write_out};
use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy bundle: a YAML file or a directory of them.
    #[arg(long)]
    bundle: PathBuf,
    /// The request JSON, or `-` for standard input.
    #[arg(long, default_value = "-")]
    request: String,
    /// Facts JSON the engine would supply: `now`, `scan`, `provenance`, `limits`.
    #[arg(long)]
    facts: Option<PathBuf>,
    /// Decision time in Unix seconds (default: the facts' `now`, else the clock).
    #[arg(long)]
    now: Option<i64>,
}

pub(crate) fn run(args: &CheckArgs, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let loaded = load_bundle(&args.bundle)?;
    let request = read_request(&args.request)?;
    let facts = read_facts(args.facts.as_deref(), args.now)?;
    let decision = ward_policy::decide(&loaded.compiled, &request, &facts);
    let json =
        serde_json::to_string_pretty(&decision).map_err(|e| Failure::failed(e.to_string()))?;
    write_out(out, &format!("{json}\n"))
}
