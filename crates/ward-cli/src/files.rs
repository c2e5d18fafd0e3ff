//! Reading bundles, requests and facts from disk.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use ward_core::Request;
use ward_policy::{Facts, Loaded};

use crate::Failure;

/// The YAML files of a bundle: the file itself, or a directory's top-level
/// `*.yaml` and `*.yml` files in name order. (Test suites live in `tests/`.)
pub(crate) fn bundle_sources(path: &Path) -> Result<Vec<(String, String)>, Failure> {
    ward_server::node::read_bundle(path).map_err(Failure::input)
}

/// The `*.yaml` and `*.yml` files directly inside `dir`.
pub(crate) fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    ward_server::node::yaml_files(dir).map_err(Failure::input)
}

/// Loads and compiles a bundle, turning diagnostics into a failure.
pub(crate) fn load_bundle(path: &Path) -> Result<Loaded, Failure> {
    let sources = bundle_sources(path)?;
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    ward_policy::load(&refs).map_err(|e| Failure::input(e.to_string()))
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(path: &str) -> Result<Vec<u8>, Failure> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::input(format!("cannot read standard input: {e}")))?;
        Ok(buf)
    } else {
        fs::read(path).map_err(|e| Failure::input(format!("cannot read `{path}`: {e}")))
    }
}

pub(crate) fn read_request(path: &str) -> Result<Request, Failure> {
    let bytes = read_input(path)?;
    Request::from_json(&bytes).map_err(|e| Failure::input(format!("{path}: {e}")))
}

pub(crate) fn read_facts(path: Option<&Path>, now: Option<i64>) -> Result<Facts, Failure> {
    let mut facts = match path {
        Some(p) => {
            let bytes = fs::read(p)
                .map_err(|e| Failure::input(format!("cannot read `{}`: {e}", p.display())))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Failure::input(format!("{}: invalid facts: {e}", p.display())))?
        }
        None => Facts::default(),
    };
    if let Some(now) = now {
        facts.now = now;
    } else if facts.now == 0 {
        facts.now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    }
    Ok(facts)
}

pub(crate) fn write_out(out: &mut dyn std::io::Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes())
        .map_err(|e| Failure::failed(format!("cannot write output: {e}")))
}
