//! The `ward` command line: argument parsing and the commands' I/O.
//!
//! Exit status: 0 success; 1 a check failed (lint errors, failing policy
//! tests, a signature that does not verify); 2 usage error; 3 an input could
//! not be read or parsed (a missing file, malformed JSON or YAML).

mod audit;
mod check;
mod demo;
mod files;
mod mcp;
mod policy;
mod sandbox;
mod serve;

use clap::{Parser, Subcommand};

/// Exit status for a failed check.
pub(crate) const EXIT_FAILED: i32 = 1;
/// Exit status for a usage error (clap uses it too).
pub(crate) const EXIT_USAGE: i32 = 2;
/// Exit status for input that cannot be read or parsed.
pub(crate) const EXIT_INPUT: i32 = 3;

/// A failure with the exit status it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn input(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INPUT,
            message: message.into(),
        }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

/// Ward: a deterministic, fail-closed gate between AI agents and their tools.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, long_about = None)]
#[command(
    after_help = "Exit status: 0 success, 1 a check failed, 2 usage error, 3 unreadable or malformed input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a gate with the support example and play a scripted agent against it over HTTP.
    Demo(demo::DemoArgs),
    /// Run the gate: the HTTP decision and operator API (embedded SQLite by default).
    Serve(serve::ServeArgs),
    /// Decide one request against a bundle and print the Decision JSON.
    Check(check::CheckArgs),
    /// Work with policy bundles: lint, test, explain, sign, verify, diff.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Manage audit-log signing keys.
    #[command(subcommand)]
    Keys(audit::KeysCommand),
    /// Query, export and check the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The MCP gateway: one MCP server in front of a config's upstream servers, every call through the gate.
    Mcp(mcp::McpArgs),
    /// Confine this process to a privilege ring, then execute a program (used by the MCP gateway).
    #[command(name = "sandbox-exec", hide = true)]
    SandboxExec(sandbox::SandboxExecArgs),
}

/// Runs the CLI and returns the process exit status.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args, &mut out),
        Command::Serve(args) => serve::run(&args),
        Command::Check(args) => check::run(&args, &mut out),
        Command::Policy(cmd) => policy::run(cmd, &mut out),
        Command::Keys(cmd) => audit::run_keys(cmd, &mut out),
        Command::Audit(cmd) => audit::run_audit(cmd, &mut out),
        // The gateway speaks MCP on stdout itself, so it must not be locked here.
        Command::Mcp(args) => {
            drop(out);
            mcp::run(args)
        }
        Command::SandboxExec(args) => sandbox::run(args, &mut out),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("ward: {}", f.message);
            f.code
        }
    }
}
