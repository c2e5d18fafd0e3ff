//! `ward sandbox-exec`: confine this process to a privilege ring, then
//! execute a program in its place.
//!
//! The command is hidden: the MCP gateway runs it for each sandboxed stdio
//! server (building the invocation with `ward_sandbox::command`), and
//! operators use it to try a ring by hand or to `--probe` the kernel. It
//! writes nothing to stdout except the probe report, because stdout becomes
//! the server's MCP channel.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use ward_sandbox::{ErrorKind, Profile, Ring};

use crate::{Failure, EXIT_FAILED, EXIT_INPUT, EXIT_USAGE};

/// A limit as the command line gives it: a number, or `unlimited`.
#[derive(Clone, Copy, Debug)]
struct LimitArg(Option<u64>);

fn parse_limit(text: &str) -> Result<LimitArg, ward_sandbox::SandboxError> {
    ward_sandbox::parse_limit(text).map(LimitArg)
}

#[derive(Debug, Args)]
pub(crate) struct SandboxExecArgs {
    /// The ring: 3 (no network; read-only but --scratch; limits), 2 (read-only),
    /// 1 (read-only but --dir), 0 (unsandboxed).
    #[arg(long, required_unless_present = "probe")]
    ring: Option<Ring>,
    /// Ring 3's only writable directory (absolute).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
    /// Ring 1's only writable directory (absolute).
    #[arg(long = "dir", value_name = "DIR")]
    own_dir: Option<PathBuf>,
    /// CPU seconds before the program is killed (ring 3 default: 600).
    #[arg(long, value_name = "SECS|unlimited", value_parser = parse_limit)]
    cpu_secs: Option<LimitArg>,
    /// Private memory per process in MiB (ring 3 default: 1024).
    #[arg(long, value_name = "MIB|unlimited", value_parser = parse_limit)]
    memory_mb: Option<LimitArg>,
    /// Processes of the user (ring 3 default: 256; as root, only `unlimited`).
    #[arg(long, value_name = "N|unlimited", value_parser = parse_limit)]
    processes: Option<LimitArg>,
    /// Print what this kernel can enforce, and exit.
    #[arg(long, conflicts_with_all = ["ring", "program"])]
    probe: bool,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required_unless_present = "probe", value_name = "PROGRAM")]
    program: Vec<OsString>,
}

pub(crate) fn run(args: SandboxExecArgs, out: &mut impl Write) -> Result<(), Failure> {
    let usage = |message: String| Failure {
        code: EXIT_USAGE,
        message,
    };
    if args.probe {
        return write!(out, "{}", ward_sandbox::probe())
            .map_err(|e| Failure::failed(format!("cannot write the probe report: {e}")));
    }
    let ring = args
        .ring
        .ok_or_else(|| usage("`--ring` is required".to_owned()))?;
    let (program, program_args) = args
        .program
        .split_first()
        .ok_or_else(|| usage("a program to run is required after `--`".to_owned()))?;
    let mut profile = Profile::new(ring);
    profile.scratch = args.scratch;
    profile.own_dir = args.own_dir;
    let limits = &mut profile.limits;
    for (limit, given) in [
        (&mut limits.cpu_secs, args.cpu_secs),
        (&mut limits.memory_mb, args.memory_mb),
        (&mut limits.processes, args.processes),
    ] {
        if let Some(LimitArg(value)) = given {
            *limit = value;
        }
    }
    let error = match ward_sandbox::exec(&profile, program, program_args) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    let code = match error.kind() {
        ErrorKind::Usage => EXIT_USAGE,
        ErrorKind::Input => EXIT_INPUT,
        ErrorKind::Refused => EXIT_FAILED,
    };
    Err(Failure {
        code,
        message: format!("sandbox-exec: {error}"),
    })
}
