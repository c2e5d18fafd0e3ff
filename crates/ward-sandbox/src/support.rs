//! What this machine can enforce, and whether that is enough for a profile.
//!
//! [`Support::check`] is the fail-closed gate: a ring is run only when every
//! mechanism it relies on is present. Hardening layers that are used when the
//! kernel has them (landlock network rules and scopes, a network namespace)
//! are reported but never required, because each ring's promise is already
//! carried by a required mechanism (see `docs/sandbox.md`).

use std::fmt;

use crate::error::SandboxError;
use crate::profile::{Profile, Ring};

/// The oldest landlock ABI that can keep a filesystem read-only: ABI 3 adds
/// the truncate right, without which `truncate(2)` and `O_TRUNC` would
/// still empty files outside the writable directory.
pub const REQUIRED_LANDLOCK_ABI: u8 = 3;

/// What the running kernel and process support, as found by [`probe`](crate::probe).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Support {
    /// The newest landlock ABI the kernel accepts, up to 6 (the newest this
    /// crate uses); 0 when landlock is missing or disabled.
    pub landlock_abi: u8,
    /// Seccomp filters can be installed.
    pub seccomp_filter: bool,
    /// This process may create a network namespace (it holds `CAP_SYS_ADMIN`).
    pub net_namespace: bool,
    /// The kernel allows user namespaces (reported only; Ward does not use them).
    pub user_namespaces: bool,
    /// The kernel applies `RLIMIT_NPROC` to this user: it never does for uid 0.
    pub process_limit: bool,
}

impl Support {
    /// Refuses a profile this machine cannot enforce in full.
    pub fn check(&self, profile: &Profile) -> Result<(), SandboxError> {
        let ring = profile.ring;
        if ring == Ring::Zero {
            return Ok(());
        }
        let unsupported = |missing: String| SandboxError::Unsupported { ring, missing };
        if self.landlock_abi < REQUIRED_LANDLOCK_ABI {
            return Err(unsupported(format!(
                "a read-only filesystem needs landlock abi {REQUIRED_LANDLOCK_ABI} or newer \
                 (linux 6.2), and this kernel has `{}`",
                self.landlock_abi
            )));
        }
        if !self.seccomp_filter {
            return Err(unsupported(
                "the kernel cannot install seccomp filters".to_owned(),
            ));
        }
        if let Some(processes) = profile.limits.processes {
            if !self.process_limit {
                return Err(unsupported(format!(
                    "linux does not apply the process limit `{processes}` (RLIMIT_NPROC) to \
                     uid 0; run ward as an unprivileged user, or lift the limit explicitly \
                     with `--processes unlimited`"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "landlock abi: {}", self.landlock_abi)?;
        writeln!(
            f,
            "  read-only filesystem (abi >= {REQUIRED_LANDLOCK_ABI}): {}",
            yes_no(self.landlock_abi >= REQUIRED_LANDLOCK_ABI)
        )?;
        writeln!(
            f,
            "  tcp rules (abi >= 4): {}",
            yes_no(self.landlock_abi >= 4)
        )?;
        writeln!(
            f,
            "  device ioctl rules (abi >= 5): {}",
            yes_no(self.landlock_abi >= 5)
        )?;
        writeln!(
            f,
            "  signal and abstract socket scopes (abi >= 6): {}",
            yes_no(self.landlock_abi >= 6)
        )?;
        writeln!(f, "seccomp filters: {}", yes_no(self.seccomp_filter))?;
        writeln!(
            f,
            "network namespace (needs CAP_SYS_ADMIN): {}",
            yes_no(self.net_namespace)
        )?;
        writeln!(f, "user namespaces: {}", yes_no(self.user_namespaces))?;
        writeln!(f, "process limit enforced: {}", yes_no(self.process_limit))?;
        for ring in [Ring::Three, Ring::Two, Ring::One] {
            let mut profile = Profile::new(ring);
            profile.scratch = (ring == Ring::Three).then(|| "/scratch".into());
            profile.own_dir = (ring == Ring::One).then(|| "/dir".into());
            match self.check(&profile) {
                Ok(()) => writeln!(f, "ring {ring}: enforceable")?,
                Err(e) => writeln!(f, "ring {ring}: refused: {e}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Support {
        Support {
            landlock_abi: 6,
            seccomp_filter: true,
            net_namespace: true,
            user_namespaces: true,
            process_limit: true,
        }
    }

    fn three() -> Profile {
        let mut profile = Profile::new(Ring::Three);
        profile.scratch = Some("/scratch".into());
        profile
    }

    #[test]
    fn a_missing_mechanism_refuses_every_sandboxed_ring() {
        let old_landlock = Support {
            landlock_abi: 2,
            ..full()
        };
        let no_seccomp = Support {
            seccomp_filter: false,
            ..full()
        };
        for support in [old_landlock, no_seccomp] {
            for ring in [Ring::One, Ring::Two, Ring::Three] {
                let mut profile = three();
                profile.ring = ring;
                let err = support.check(&profile).unwrap_err();
                assert!(matches!(err, SandboxError::Unsupported { .. }), "{err}");
            }
            support.check(&Profile::new(Ring::Zero)).unwrap();
        }
    }

    #[test]
    fn optional_layers_are_not_required() {
        let bare = Support {
            landlock_abi: 3,
            net_namespace: false,
            user_namespaces: false,
            ..full()
        };
        bare.check(&three()).unwrap();
    }

    #[test]
    fn root_needs_the_process_limit_lifted_explicitly() {
        let root = Support {
            process_limit: false,
            ..full()
        };
        let err = root.check(&three()).unwrap_err();
        assert!(err.to_string().contains("`--processes unlimited`"), "{err}");
        let mut lifted = three();
        lifted.limits.processes = None;
        root.check(&lifted).unwrap();
    }
}
