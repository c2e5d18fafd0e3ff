//! Confining the calling process on Linux, step by step, before it executes
//! the server.
//!
//! The order matters. Limits come first, while nothing forbids setting them.
//! The network namespace comes while `CAP_SYS_ADMIN` is still held. Then
//! every capability goes, `no_new_privs` is set, so that nothing executed
//! later can gain privilege, and landlock and seccomp are applied last,
//! because the seccomp filter refuses `unshare` and `setrlimit` themselves.
//!
//! Landlock and seccomp bind the calling thread and everything it executes.
//! `ward sandbox-exec` runs this on its only thread and then calls `execve`,
//! which ends every other thread, so nothing unconfined survives.

use std::fs;
use std::path::Path;

use caps::{CapSet, Capability};
use landlock::{
    make_bitflags, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd,
    PathFdError, RestrictionStatus, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError,
    RulesetStatus, Scope, ABI,
};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::error::SandboxError;
use crate::profile::{Limits, Profile, Ring};
use crate::seccomp;
use crate::support::Support;

/// The landlock ABI whose access rights every sandboxed ring relies on.
const REQUIRED_ABI: ABI = ABI::V3;
/// The newest landlock ABI whose rights are used when the kernel has them.
const NEWEST_ABI: ABI = ABI::V6;
/// Devices that stay writable in every ring: writing to them changes nothing.
const HARMLESS_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

pub(crate) fn probe() -> Support {
    Support {
        landlock_abi: landlock_abi(),
        seccomp_filter: fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
            .is_ok_and(|actions| actions.split_whitespace().any(|a| a == "errno")),
        net_namespace: Path::new("/proc/self/ns/net").exists()
            && caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false),
        user_namespaces: fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .is_ok_and(|max| max.trim().parse::<u64>().is_ok_and(|max| max > 0)),
        process_limit: !is_global_root(),
    }
}

/// The newest ABI for which a ruleset with all of that ABI's rights can be
/// created. Creating a ruleset restricts nothing until it is enforced.
fn landlock_abi() -> u8 {
    let abis = [
        (6, ABI::V6),
        (5, ABI::V5),
        (4, ABI::V4),
        (3, ABI::V3),
        (2, ABI::V2),
        (1, ABI::V1),
    ];
    for (number, abi) in abis {
        let created = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi))
            .and_then(|r| match abi >= ABI::V4 {
                true => r.handle_access(AccessNet::from_all(abi)),
                false => Ok(r),
            })
            .and_then(|r| match abi >= ABI::V6 {
                true => r.scope(Scope::from_all(abi)),
                false => Ok(r),
            })
            .and_then(|r| r.create());
        if created.is_ok() {
            return number;
        }
    }
    0
}

/// Whether the real uid is the initial namespace's root, whom the kernel
/// exempts from `RLIMIT_NPROC`. When the mapping cannot be read, assume so.
fn is_global_root() -> bool {
    let uid = nix::unistd::getuid().as_raw();
    let Ok(map) = fs::read_to_string("/proc/self/uid_map") else {
        return true;
    };
    for line in map.lines() {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if let [inside, outside, count] = fields[..] {
            let uid = u64::from(uid);
            if uid >= inside && uid - inside < count {
                return outside + (uid - inside) == 0;
            }
        }
    }
    true
}

/// Confines the calling thread to `profile`, which must be valid and
/// sandboxed (ring 1 to 3).
pub(crate) fn confine(profile: &Profile) -> Result<(), SandboxError> {
    let writable = match (&profile.scratch, &profile.own_dir) {
        (Some(dir), _) | (None, Some(dir)) => Some(open_writable(dir)?),
        (None, None) => None,
    };
    set_limits(&profile.limits)?;
    if profile.ring == Ring::Three {
        leave_network();
    }
    drop_capabilities()?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| SandboxError::apply("no_new_privs", e))?;
    let status = restrict_filesystem(profile.ring, writable)
        .map_err(|e| SandboxError::apply("landlock", e))?;
    // The hard requirement already refuses an older kernel; this keeps a
    // change in the landlock crate's semantics from passing silently.
    if status.ruleset == RulesetStatus::NotEnforced || !status.no_new_privs {
        return Err(SandboxError::apply(
            "landlock",
            "the ruleset was not enforced",
        ));
    }
    seccomp::install(profile.ring)
}

fn open_writable(dir: &Path) -> Result<PathFd, SandboxError> {
    let directory = |source| SandboxError::Directory {
        path: dir.to_path_buf(),
        source,
    };
    let canonical = fs::canonicalize(dir).map_err(directory)?;
    if canonical == Path::new("/") {
        return Err(SandboxError::WritableRoot(dir.to_path_buf()));
    }
    if !fs::metadata(&canonical).map_err(directory)?.is_dir() {
        return Err(SandboxError::NotADirectory(dir.to_path_buf()));
    }
    PathFd::new(&canonical).map_err(|e| SandboxError::apply("landlock", e))
}

/// Sets each limit as both soft and hard limit, never above the hard limit
/// already in force (lowering needs no privilege; raising would fail).
/// Core dumps are always off: a dump is a copy of the server's memory handed
/// to whatever `core_pattern` names, which runs outside the sandbox.
fn set_limits(limits: &Limits) -> Result<(), SandboxError> {
    let memory_bytes = match limits.memory_mb {
        Some(mb) => Some(mb.checked_mul(1 << 20).ok_or(SandboxError::LimitTooLarge {
            name: "memory-mb",
            value: mb,
        })?),
        None => None,
    };
    let wanted = [
        (Resource::RLIMIT_CORE, Some(0)),
        (Resource::RLIMIT_CPU, limits.cpu_secs),
        (Resource::RLIMIT_DATA, memory_bytes),
        (Resource::RLIMIT_NPROC, limits.processes),
    ];
    for (resource, limit) in wanted {
        let Some(limit) = limit else { continue };
        let fail = |e| SandboxError::apply("rlimits", format!("{resource:?}: {e}"));
        let (_, hard) = getrlimit(resource).map_err(fail)?;
        let limit = limit.min(hard);
        setrlimit(resource, limit, limit).map_err(fail)?;
    }
    Ok(())
}

/// A new, empty network namespace for ring 3 when this process may create
/// one: a second wall behind the seccomp rule that refuses `socket(2)`.
/// Without `CAP_SYS_ADMIN` it is skipped; the seccomp rule and landlock's
/// TCP rules carry ring 3's promise alone.
fn leave_network() {
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false) {
        let _ = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
    }
}

/// Drops every capability, so that a server started by root keeps root's
/// file ownership but none of its powers (`CAP_SYS_RESOURCE`,
/// `CAP_NET_ADMIN`, `CAP_DAC_OVERRIDE`, ...). With `no_new_privs` and an
/// empty permitted set, `execve` cannot grant any back, even to uid 0.
fn drop_capabilities() -> Result<(), SandboxError> {
    let fail = |e: caps::errors::CapsError| SandboxError::apply("capabilities", e);
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).map_err(fail)? {
        caps::clear(None, CapSet::Bounding).map_err(fail)?;
    }
    caps::clear(None, CapSet::Ambient).map_err(fail)?;
    caps::clear(None, CapSet::Inheritable).map_err(fail)?;
    // Clearing the permitted set clears the effective set with it.
    caps::clear(None, CapSet::Permitted).map_err(fail)?;
    Ok(())
}

/// The two ways building a landlock ruleset fails.
#[derive(Debug, thiserror::Error)]
enum LandlockError {
    #[error(transparent)]
    Ruleset(#[from] RulesetError),
    #[error(transparent)]
    Path(#[from] PathFdError),
}

/// Read and execute everywhere; write only beneath `writable` and to a few
/// harmless devices. Ring 3 also loses TCP and, where the kernel has the
/// scopes, signals to and abstract sockets of processes outside its sandbox.
fn restrict_filesystem(
    ring: Ring,
    writable: Option<PathFd>,
) -> Result<RestrictionStatus, LandlockError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(REQUIRED_ABI))?
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(NEWEST_ABI))?;
    if ring == Ring::Three {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(NEWEST_ABI))?
            .scope(Scope::from_all(NEWEST_ABI))?;
    }
    let mut created = ruleset.create()?.add_rule(PathBeneath::new(
        PathFd::new("/")?,
        AccessFs::from_read(NEWEST_ABI),
    ))?;
    for device in HARMLESS_DEVICES {
        if let Ok(fd) = PathFd::new(device) {
            let access = make_bitflags!(AccessFs::{ReadFile | WriteFile | Truncate});
            created = created.add_rule(PathBeneath::new(fd, access))?;
        }
    }
    if let Some(dir) = writable {
        // No device nodes, even for root: a block device made in scratch
        // would open the whole disk.
        let access =
            AccessFs::from_all(NEWEST_ABI) & !make_bitflags!(AccessFs::{MakeChar | MakeBlock});
        created = created.add_rule(PathBeneath::new(dir, access))?;
    }
    Ok(created.restrict_self()?)
}
