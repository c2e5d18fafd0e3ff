//! Privilege rings for the stdio servers Ward launches.
//!
//! A [`Profile`] names a [`Ring`] (0 to 3), the one directory the ring may
//! write, and resource [`Limits`]. Because the workspace forbids `unsafe`,
//! nothing is set up between `fork` and `exec` of someone else's process.
//! Instead a process confines *itself* and then executes the server:
//! [`exec`] is that step, and `ward sandbox-exec` is the command that runs
//! it. The MCP gateway builds that command with [`command`] and spawns it
//! like any other child.
//!
//! The crate fails closed: [`exec`] runs the program only when every
//! mechanism the ring relies on was applied, and otherwise returns an error
//! without running anything. Ring 0 runs the program unsandboxed and is only
//! ever an explicit choice. `docs/sandbox.md` says which mechanism enforces
//! which restriction.

mod error;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod linux;
mod profile;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod seccomp;
mod support;
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod unsupported;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
use linux as platform;
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
use unsupported as platform;

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::Command;

pub use error::{ErrorKind, SandboxError};
pub use profile::{command, parse_limit, Limits, Profile, Ring};
pub use support::{Support, REQUIRED_LANDLOCK_ABI};

/// Reports what this kernel and process can enforce.
pub fn probe() -> Support {
    platform::probe()
}

/// Confines this process to `profile` and replaces it with `program`. It
/// returns only on failure, and then `program` has not run.
///
/// Call it from a single-threaded process (such as `ward sandbox-exec`):
/// the confinement binds the calling thread, and `execve` ends the others.
/// Once confinement has begun, a failure leaves this process partly
/// confined; it should only report the error and exit.
pub fn exec(
    profile: &Profile,
    program: &OsStr,
    args: &[OsString],
) -> Result<Infallible, SandboxError> {
    profile.validate()?;
    if profile.ring != Ring::Zero {
        probe().check(profile)?;
        platform::confine(profile)?;
    }
    let source = Command::new(program).args(args).exec();
    Err(SandboxError::Exec {
        program: program.to_string_lossy().into_owned(),
        source,
    })
}
