//! Platforms this crate cannot confine on (anything but Linux on x86_64 or
//! aarch64): every sandboxed ring is refused and only ring 0 runs.

use crate::error::SandboxError;
use crate::profile::Profile;
use crate::support::Support;

pub(crate) fn probe() -> Support {
    Support {
        landlock_abi: 0,
        seccomp_filter: false,
        net_namespace: false,
        user_namespaces: false,
        process_limit: false,
    }
}

pub(crate) fn confine(profile: &Profile) -> Result<(), SandboxError> {
    Err(SandboxError::Unsupported {
        ring: profile.ring,
        missing: format!(
            "sandboxing is built for linux on x86_64 and aarch64, not `{}` on `{}`",
            std::env::consts::OS,
            std::env::consts::ARCH
        ),
    })
}
