//! The one error type of the crate. Every variant says which value was at
//! fault, and [`SandboxError::kind`] sorts them into the three ways a caller
//! reacts: fix the invocation, fix the input, or accept that this machine
//! cannot confine the server as asked.

use std::path::PathBuf;

use crate::profile::Ring;

/// Why a profile was rejected, or why it could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// A ring other than `0`, `1`, `2` or `3`.
    #[error("unknown ring `{0}`: expected 0, 1, 2 or 3")]
    UnknownRing(String),
    /// A limit that is neither a positive integer nor `unlimited`.
    #[error("invalid limit `{0}`: expected a positive integer or `unlimited`")]
    InvalidLimit(String),
    /// Ring 3 needs somewhere to write.
    #[error("ring `3` needs a scratch directory (`--scratch DIR`)")]
    MissingScratch,
    /// Ring 1 needs the directory it may write.
    #[error("ring `1` needs its own directory (`--dir DIR`)")]
    MissingOwnDir,
    /// A scratch directory given to a ring that has none.
    #[error("ring `{0}` has no scratch directory; only ring 3 takes `--scratch`")]
    UnexpectedScratch(Ring),
    /// An own directory given to a ring that has none.
    #[error("ring `{0}` has no writable directory of its own; only ring 1 takes `--dir`")]
    UnexpectedOwnDir(Ring),
    /// Ring 0 is unsandboxed, so a limit on it would be a promise not kept.
    #[error("ring `0` is unsandboxed and takes no limits (`{0}`)")]
    LimitOnRingZero(&'static str),
    /// Paths are resolved by a process whose working directory the caller
    /// does not control, so they must be absolute.
    #[error("directory `{0}` must be an absolute path")]
    RelativePath(PathBuf),
    /// A writable `/` would leave nothing read-only.
    #[error("directory `{0}` resolves to `/`; a writable root is not a sandbox")]
    WritableRoot(PathBuf),
    /// A limit so large it overflows the kernel's type.
    #[error("limit `{name}` of `{value}` is too large")]
    LimitTooLarge {
        /// Which limit.
        name: &'static str,
        /// The value given.
        value: u64,
    },
    /// A directory that cannot be opened.
    #[error("cannot open directory `{path}`: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: std::io::Error,
    },
    /// A path that exists but is not a directory.
    #[error("`{0}` is not a directory")]
    NotADirectory(PathBuf),
    /// The kernel (or the platform) lacks a mechanism the ring requires.
    #[error("ring `{ring}` cannot be enforced here: {missing}")]
    Unsupported {
        /// The ring asked for.
        ring: Ring,
        /// What is missing, in words.
        missing: String,
    },
    /// A mechanism exists but applying it failed.
    #[error("cannot apply {step}: {detail}")]
    Apply {
        /// The step that failed, such as `landlock` or `seccomp`.
        step: &'static str,
        /// The underlying error, in words.
        detail: String,
    },
    /// The program could not be executed.
    #[error("cannot execute `{program}`: {source}")]
    Exec {
        /// The program, as given.
        program: String,
        /// Why `execve` failed.
        #[source]
        source: std::io::Error,
    },
}

/// How a caller should react to a [`SandboxError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The profile or invocation is wrong (a usage error).
    Usage,
    /// An input could not be read: a missing directory or program.
    Input,
    /// This machine cannot confine the program as asked, so it was not run.
    Refused,
}

impl SandboxError {
    /// How a caller should react to this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SandboxError::UnknownRing(_)
            | SandboxError::InvalidLimit(_)
            | SandboxError::MissingScratch
            | SandboxError::MissingOwnDir
            | SandboxError::UnexpectedScratch(_)
            | SandboxError::UnexpectedOwnDir(_)
            | SandboxError::LimitOnRingZero(_)
            | SandboxError::RelativePath(_)
            | SandboxError::WritableRoot(_)
            | SandboxError::LimitTooLarge { .. } => ErrorKind::Usage,
            SandboxError::Directory { .. }
            | SandboxError::NotADirectory(_)
            | SandboxError::Exec { .. } => ErrorKind::Input,
            SandboxError::Unsupported { .. } | SandboxError::Apply { .. } => ErrorKind::Refused,
        }
    }

    pub(crate) fn apply(step: &'static str, detail: impl std::fmt::Display) -> SandboxError {
        SandboxError::Apply {
            step,
            detail: detail.to_string(),
        }
    }
}
