//! Key files (`docs/receipt-format.md` §3.5): generation, loading and the
//! permission rules. A private key file is created with mode 0600 in the
//! same `open` call that creates it, so there is no moment at which another
//! user could read it; a file readable by group or others is refused.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use rand_core::{OsRng, RngCore as _};

use crate::note::{LogKey, NoteError};

/// Why a key file could not be written or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be created, written or read.
    #[error("key file `{path}`: {message}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The file is readable by group or others.
    #[error(
        "key file `{path}` has mode {mode:o}, readable by group or others; run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's content is not a private key.
    #[error("key file `{path}`: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        source: NoteError,
    },
}

/// Generates a new key named `name`, writes its private key to a new file
/// at `path` (mode 0600; an existing file is never overwritten), and returns
/// the verifier key string to give to auditors.
pub fn generate_key(name: &str, path: &Path) -> Result<String, KeyError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| KeyError::Io {
        path: shown.clone(),
        message: e.to_string(),
    };
    let mut seed = [0u8; 32];
    OsRng.try_fill_bytes(&mut seed).map_err(|e| KeyError::Io {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let key = LogKey::from_seed(name, seed).map_err(|source| KeyError::Invalid {
        path: shown.clone(),
        source,
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(format!("{}\n", key.private_string()).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key.verifier().to_string())
}

/// Loads a private key file, refusing one readable by group or others.
pub fn load_key(path: &Path) -> Result<LogKey, KeyError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| KeyError::Io {
        path: shown.clone(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions { path: shown, mode });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    LogKey::from_private_string(&text).map_err(|source| KeyError::Invalid {
        path: shown,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let verifier = generate_key("ward/test", &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = load_key(&path).unwrap();
        assert_eq!(key.verifier().to_string(), verifier);
        assert!(
            generate_key("ward/test", &path).is_err(),
            "never overwrites"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::Permissions { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("log.key"), "{err}");
        assert!(generate_key("bad name", &dir.path().join("other.key")).is_err());
    }
}
