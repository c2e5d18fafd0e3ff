//! Rings, limits and profiles: plain values, checked without touching the
//! system, and the `ward sandbox-exec` command line that carries a profile
//! to the process that applies it.
//!
//! A profile that passes [`Profile::validate`] is complete: every ring that
//! writes has its directory, ring 0 has no limits it would ignore, and ring 3
//! carries limits unless the operator lifted one explicitly.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use crate::error::SandboxError;

/// How far a launched server is confined. Lower numbers are more trusted.
///
/// | ring | filesystem                      | network | syscalls | limits   |
/// |------|---------------------------------|---------|----------|----------|
/// | 3    | read-only, except `scratch`     | none    | filtered | required |
/// | 2    | read-only                       | allowed | filtered | optional |
/// | 1    | read-only, except its own `dir` | allowed | filtered | optional |
/// | 0    | unsandboxed                     | allowed | all      | none     |
///
/// There is no `Default`: ring 0 in particular is only ever an explicit
/// choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ring {
    /// Unsandboxed: the program is executed as it is.
    Zero,
    /// Read-only filesystem except its own directory; network allowed.
    One,
    /// Read-only filesystem; network allowed.
    Two,
    /// Read-only filesystem except a scratch directory; no network; limits.
    Three,
}

impl Ring {
    /// The ring's number, `0` to `3`.
    pub fn number(self) -> u8 {
        match self {
            Ring::Zero => 0,
            Ring::One => 1,
            Ring::Two => 2,
            Ring::Three => 3,
        }
    }
}

impl TryFrom<u8> for Ring {
    type Error = SandboxError;

    fn try_from(number: u8) -> Result<Ring, SandboxError> {
        match number {
            0 => Ok(Ring::Zero),
            1 => Ok(Ring::One),
            2 => Ok(Ring::Two),
            3 => Ok(Ring::Three),
            other => Err(SandboxError::UnknownRing(other.to_string())),
        }
    }
}

impl FromStr for Ring {
    type Err = SandboxError;

    fn from_str(text: &str) -> Result<Ring, SandboxError> {
        match text {
            "0" => Ok(Ring::Zero),
            "1" => Ok(Ring::One),
            "2" => Ok(Ring::Two),
            "3" => Ok(Ring::Three),
            other => Err(SandboxError::UnknownRing(other.to_owned())),
        }
    }
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Resource limits, each `None` for unlimited. They are per process (rlimits):
/// see `docs/sandbox.md` for what each one counts.
///
/// There is no `Default`, so that a caller cannot build a ring-3 profile with
/// no limits by accident: start from [`Limits::for_ring`] or
/// [`Profile::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// CPU time in seconds (`RLIMIT_CPU`); past it the process is killed.
    pub cpu_secs: Option<u64>,
    /// Private writable memory in MiB (`RLIMIT_DATA`); past it allocations fail.
    pub memory_mb: Option<u64>,
    /// Processes and threads of the user (`RLIMIT_NPROC`); past it `fork` fails.
    pub processes: Option<u64>,
}

impl Limits {
    /// No limits.
    pub const UNLIMITED: Limits = Limits {
        cpu_secs: None,
        memory_mb: None,
        processes: None,
    };

    /// Ring 3's limits when the operator names none: ten minutes of CPU,
    /// 1 GiB of private memory and 256 processes (threads count as processes,
    /// and a node server alone runs a dozen).
    pub const RING_THREE: Limits = Limits {
        cpu_secs: Some(600),
        memory_mb: Some(1024),
        processes: Some(256),
    };

    /// The limits a ring starts with: [`Limits::RING_THREE`] for ring 3 and
    /// none for the others.
    pub fn for_ring(ring: Ring) -> Limits {
        match ring {
            Ring::Three => Limits::RING_THREE,
            Ring::Zero | Ring::One | Ring::Two => Limits::UNLIMITED,
        }
    }

    /// Each limit's flag name and value, in the order `sandbox-exec` takes them.
    pub(crate) fn named(&self) -> [(&'static str, Option<u64>); 3] {
        [
            ("cpu-secs", self.cpu_secs),
            ("memory-mb", self.memory_mb),
            ("processes", self.processes),
        ]
    }
}

/// Parses one limit as `sandbox-exec` takes it: a positive integer, or
/// `unlimited` for none.
pub fn parse_limit(text: &str) -> Result<Option<u64>, SandboxError> {
    if text == "unlimited" {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(value) if value > 0 => Ok(Some(value)),
        _ => Err(SandboxError::InvalidLimit(text.to_owned())),
    }
}

fn format_limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |value| value.to_string())
}

/// Everything needed to confine one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The ring.
    pub ring: Ring,
    /// Ring 3's only writable directory.
    pub scratch: Option<PathBuf>,
    /// Ring 1's only writable directory.
    pub own_dir: Option<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
}

impl Profile {
    /// A profile for `ring` with that ring's default limits and no
    /// directories (ring 3 and ring 1 still need theirs set).
    pub fn new(ring: Ring) -> Profile {
        Profile {
            ring,
            scratch: None,
            own_dir: None,
            limits: Limits::for_ring(ring),
        }
    }

    /// Checks the profile without touching the system: each ring has exactly
    /// the directories it writes, they are absolute and not `/`, ring 0 has no
    /// limits, and every limit fits the kernel's types.
    pub fn validate(&self) -> Result<(), SandboxError> {
        match self.ring {
            Ring::Three if self.scratch.is_none() => return Err(SandboxError::MissingScratch),
            Ring::One if self.own_dir.is_none() => return Err(SandboxError::MissingOwnDir),
            _ => {}
        }
        if self.scratch.is_some() && self.ring != Ring::Three {
            return Err(SandboxError::UnexpectedScratch(self.ring));
        }
        if self.own_dir.is_some() && self.ring != Ring::One {
            return Err(SandboxError::UnexpectedOwnDir(self.ring));
        }
        for dir in self.scratch.iter().chain(self.own_dir.iter()) {
            if !dir.is_absolute() {
                return Err(SandboxError::RelativePath(dir.clone()));
            }
            if dir.components().all(|c| matches!(c, Component::RootDir)) {
                return Err(SandboxError::WritableRoot(dir.clone()));
            }
        }
        for (name, limit) in self.limits.named() {
            match limit {
                Some(_) if self.ring == Ring::Zero => {
                    return Err(SandboxError::LimitOnRingZero(name));
                }
                Some(0) => return Err(SandboxError::InvalidLimit("0".to_owned())),
                Some(value) if name == "memory-mb" && value.checked_mul(1 << 20).is_none() => {
                    return Err(SandboxError::LimitTooLarge { name, value });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The command that runs `program` under `profile`: for rings 1 to 3,
/// `ward_exe sandbox-exec --ring N ... -- program args...`, with every limit
/// spelled out; for ring 0, `program args...` itself.
///
/// The MCP gateway passes `std::env::current_exe()` as `ward_exe` and sets
/// up stdio and environment on the returned command before spawning it. The
/// profile is checked again by `sandbox-exec`, which refuses to run the
/// program if it is invalid or cannot be enforced; call
/// [`Profile::validate`] first to report mistakes at configuration time.
pub fn command(ward_exe: &Path, profile: &Profile, program: &OsStr, args: &[OsString]) -> Command {
    if profile.ring == Ring::Zero {
        let mut command = Command::new(program);
        command.args(args);
        return command;
    }
    let mut command = Command::new(ward_exe);
    command
        .arg("sandbox-exec")
        .arg("--ring")
        .arg(profile.ring.to_string());
    if let Some(scratch) = &profile.scratch {
        command.arg("--scratch").arg(scratch);
    }
    if let Some(own_dir) = &profile.own_dir {
        command.arg("--dir").arg(own_dir);
    }
    for (name, limit) in profile.limits.named() {
        command.arg(format!("--{name}")).arg(format_limit(limit));
    }
    command.arg("--").arg(program).args(args);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_parse_from_their_numbers_only() {
        for (text, ring) in [
            ("0", Ring::Zero),
            ("1", Ring::One),
            ("2", Ring::Two),
            ("3", Ring::Three),
        ] {
            assert_eq!(text.parse::<Ring>().unwrap(), ring);
            assert_eq!(ring.to_string(), text);
            assert_eq!(Ring::try_from(ring.number()).unwrap(), ring);
        }
        for bad in ["4", "-1", "", "three", " 3", "03"] {
            let err = bad.parse::<Ring>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("unknown ring `{bad}`: expected 0, 1, 2 or 3")
            );
        }
        assert!(Ring::try_from(7).is_err());
    }

    #[test]
    fn limits_parse_as_positive_integers_or_unlimited() {
        assert_eq!(parse_limit("unlimited").unwrap(), None);
        assert_eq!(parse_limit("64").unwrap(), Some(64));
        for bad in ["0", "-1", "1.5", "", "Unlimited", "1k"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(format_limit(parse_limit("12").unwrap()), "12".to_owned());
        assert_eq!(format_limit(None), "unlimited");
    }

    #[test]
    fn each_ring_takes_exactly_its_directories() {
        let mut three = Profile::new(Ring::Three);
        assert!(matches!(
            three.validate(),
            Err(SandboxError::MissingScratch)
        ));
        three.scratch = Some("/var/tmp/s".into());
        three.validate().unwrap();
        three.own_dir = Some("/srv/x".into());
        assert!(matches!(
            three.validate(),
            Err(SandboxError::UnexpectedOwnDir(Ring::Three))
        ));

        let mut one = Profile::new(Ring::One);
        assert!(matches!(one.validate(), Err(SandboxError::MissingOwnDir)));
        one.own_dir = Some("/srv/x".into());
        one.validate().unwrap();

        let mut two = Profile::new(Ring::Two);
        two.validate().unwrap();
        two.scratch = Some("/var/tmp/s".into());
        assert!(matches!(
            two.validate(),
            Err(SandboxError::UnexpectedScratch(Ring::Two))
        ));

        let mut zero = Profile::new(Ring::Zero);
        zero.validate().unwrap();
        zero.limits.memory_mb = Some(10);
        assert!(matches!(
            zero.validate(),
            Err(SandboxError::LimitOnRingZero("memory-mb"))
        ));
    }

    #[test]
    fn directories_are_absolute_and_never_root() {
        let mut three = Profile::new(Ring::Three);
        three.scratch = Some("scratch".into());
        assert!(matches!(
            three.validate(),
            Err(SandboxError::RelativePath(_))
        ));
        for root in ["/", "//", "/./"] {
            three.scratch = Some(root.into());
            assert!(
                matches!(three.validate(), Err(SandboxError::WritableRoot(_))),
                "{root}"
            );
        }
    }

    #[test]
    fn ring_three_has_limits_unless_lifted() {
        assert_eq!(Profile::new(Ring::Three).limits, Limits::RING_THREE);
        assert_eq!(Profile::new(Ring::Two).limits, Limits::UNLIMITED);
        let mut three = Profile::new(Ring::Three);
        three.scratch = Some("/s".into());
        three.limits.memory_mb = Some(u64::MAX);
        assert!(matches!(
            three.validate(),
            Err(SandboxError::LimitTooLarge {
                name: "memory-mb",
                ..
            })
        ));
        three.limits.memory_mb = Some(0);
        assert!(three.validate().is_err());
    }

    #[test]
    fn command_spells_out_the_whole_profile() {
        let mut profile = Profile::new(Ring::Three);
        profile.scratch = Some("/var/tmp/s".into());
        profile.limits.processes = None;
        let command = command(
            Path::new("/usr/bin/ward"),
            &profile,
            OsStr::new("npx"),
            &["-y".into(), "--".into(), "pkg".into()],
        );
        assert_eq!(command.get_program(), "/usr/bin/ward");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(
            args,
            [
                "sandbox-exec",
                "--ring",
                "3",
                "--scratch",
                "/var/tmp/s",
                "--cpu-secs",
                "600",
                "--memory-mb",
                "1024",
                "--processes",
                "unlimited",
                "--",
                "npx",
                "-y",
                "--",
                "pkg"
            ]
        );
    }

    #[test]
    fn ring_zero_command_is_the_program_itself() {
        let command = command(
            Path::new("/usr/bin/ward"),
            &Profile::new(Ring::Zero),
            OsStr::new("server"),
            &["a".into()],
        );
        assert_eq!(command.get_program(), "server");
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["a"]);
    }
}
