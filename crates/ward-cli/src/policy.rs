//! `ward policy`: lint, test, explain, keygen, sign, verify and diff bundles.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use ward_policy::{BundleSignature, Severity, Verdict};

use crate::files::{bundle_sources, load_bundle, read_facts, read_request, write_out, yaml_files};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a bundle and print every error and lint warning with its location.
    Lint {
        /// The bundle: a YAML file or a directory of them.
        path: PathBuf,
    },
    /// Run a bundle's test suites (the YAML files in `PATH/tests/`, or `--tests`).
    Test {
        /// The bundle: a YAML file or a directory of them.
        path: PathBuf,
        /// A suite file or a directory of suite files.
        #[arg(long)]
        tests: Option<PathBuf>,
    },
    /// Show every rule that was considered for a request, and why it matched or did not.
    Explain {
        /// The bundle.
        #[arg(long)]
        bundle: PathBuf,
        /// The request JSON, or `-` for standard input.
        #[arg(long)]
        request: String,
        /// Facts JSON: `now`, `scan`, `provenance`, `limits`.
        #[arg(long)]
        facts: Option<PathBuf>,
    },
    /// Generate an Ed25519 signing key (file mode 0600) and print its public key.
    Keygen {
        /// Where to write the secret key. It must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a bundle's digest; writes `<bundle>.sig` (or `--out`).
    Sign {
        /// The bundle.
        path: PathBuf,
        /// The secret key file from `ward policy keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signature.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a bundle's signature against a trusted public key.
    Verify {
        /// The bundle.
        path: PathBuf,
        /// The public key text (`ward-ed25519:...`) or a file holding it.
        #[arg(long)]
        key: String,
        /// The signature file (default `<bundle>.sig`).
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// List the rules and tools added, removed and changed between two bundles.
    Diff {
        /// The old bundle.
        old: PathBuf,
        /// The new bundle.
        new: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(cmd: PolicyCommand, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    match cmd {
        PolicyCommand::Lint { path } => lint(&path, out),
        PolicyCommand::Test { path, tests } => test(&path, tests.as_deref(), out),
        PolicyCommand::Explain {
            bundle,
            request,
            facts,
        } => explain(&bundle, &request, facts.as_deref(), out),
        PolicyCommand::Keygen { out: path } => keygen(&path, out),
        PolicyCommand::Sign {
            path,
            key,
            out: sig,
        } => sign(&path, &key, sig, out),
        PolicyCommand::Verify {
            path,
            key,
            signature,
        } => verify(&path, &key, signature, out),
        PolicyCommand::Diff { old, new, json } => diff(&old, &new, json, out),
    }
}

fn lint(path: &Path, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let sources = bundle_sources(path)?;
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    match ward_policy::load(&refs) {
        Ok(loaded) => {
            let mut text = String::new();
            for w in &loaded.warnings {
                let _ = writeln!(text, "{w}");
            }
            let p = loaded.compiled.policy();
            let _ = writeln!(
                text,
                "{} {} ({}): {} rules, {} tools, {} warning(s)",
                p.name,
                p.version,
                p.digest,
                loaded.compiled.rule_count(),
                loaded.compiled.tool_names().len(),
                loaded.warnings.len()
            );
            write_out(out, &text)
        }
        Err(e) => {
            let mut text = String::new();
            for d in &e.diagnostics {
                let _ = writeln!(text, "{d}");
            }
            let errors = e
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            write_out(out, &text)?;
            Err(Failure::failed(format!(
                "{} has {errors} error(s)",
                path.display()
            )))
        }
    }
}

fn test(path: &Path, tests: Option<&Path>, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let loaded = load_bundle(path)?;
    let dir = match tests {
        Some(t) => t.to_path_buf(),
        None if path.is_dir() => path.join("tests"),
        None => path.with_extension("tests"),
    };
    let files = if dir.is_dir() {
        yaml_files(&dir)?
    } else {
        vec![dir.clone()]
    };
    let (mut passed, mut failed) = (0, 0);
    let mut text = String::new();
    for file in &files {
        let content = fs::read_to_string(file)
            .map_err(|e| Failure::input(format!("cannot read `{}`: {e}", file.display())))?;
        let cases = ward_policy::parse_suite(&file.display().to_string(), &content)
            .map_err(|e| Failure::input(e.to_string()))?;
        for result in ward_policy::run_suite(&loaded.compiled, &cases) {
            if result.failures.is_empty() {
                passed += 1;
                let _ = writeln!(text, "ok     {}", result.name);
            } else {
                failed += 1;
                let _ = writeln!(text, "FAILED {}", result.name);
                for f in &result.failures {
                    let _ = writeln!(text, "         {f}");
                }
            }
        }
    }
    let _ = writeln!(text, "{passed} passed, {failed} failed");
    write_out(out, &text)?;
    if failed > 0 || passed == 0 {
        return Err(Failure::failed(format!(
            "{failed} of {} policy tests failed",
            passed + failed
        )));
    }
    Ok(())
}

fn explain(
    bundle: &Path,
    request: &str,
    facts: Option<&Path>,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    let loaded = load_bundle(bundle)?;
    let request = read_request(request)?;
    let facts = read_facts(facts, None)?;
    let ex = ward_policy::explain(&loaded.compiled, &request, &facts);
    let mut text = String::new();
    for rule in &ex.rules {
        let (mark, why) = match &rule.verdict {
            Verdict::OutOfScope(why) => ("-", format!("out of scope: {why}")),
            Verdict::Considered(f) if f.matched() => ("+", firing_text(f)),
            Verdict::Considered(f) => (" ", firing_text(f)),
        };
        let _ = writeln!(
            text,
            "{mark} {:<28} {:<22} {why}",
            rule.id,
            rule.decision.as_str()
        );
        if let Some(when) = &rule.when {
            let _ = writeln!(text, "    when: {when}");
        }
    }
    let ev = &ex.evaluation;
    let _ = writeln!(text, "\noutcome: {}", ev.outcome.as_str());
    for r in &ev.reasons {
        let _ = writeln!(
            text,
            "  {} {}: {}",
            r.code.as_str(),
            r.rule.as_deref().unwrap_or("-"),
            r.message
        );
    }
    write_out(out, &text)
}

fn firing_text(f: &ward_policy::Firing) -> String {
    match f {
        ward_policy::Firing::Fired => "matched".into(),
        ward_policy::Firing::ConditionFalse => "condition is false".into(),
        ward_policy::Firing::ErrorCountsAsMatch(e) => {
            format!("condition failed ({e}); counts as a match")
        }
        ward_policy::Firing::ErrorCountsAsNoMatch(e) => {
            format!("condition failed ({e}); counts as no match")
        }
    }
}

fn keygen(path: &Path, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    use rand_core::{OsRng, RngCore as _};
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    let secret = ward_policy::secret_key_text(&seed);
    let public =
        ward_policy::public_key_text(&secret).map_err(|e| Failure::failed(e.to_string()))?;
    write_private(path, &format!("{secret}\n"))?;
    write_out(out, &format!("{public}\n"))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure::input(format!("cannot create `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::failed(e.to_string()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, _text: &str) -> Result<(), Failure> {
    Err(Failure::failed(format!(
        "cannot write `{}`: private keys need Unix file modes",
        path.display()
    )))
}

fn signature_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn sign(
    path: &Path,
    key: &Path,
    sig: Option<PathBuf>,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    let loaded = load_bundle(path)?;
    let secret = fs::read_to_string(key)
        .map_err(|e| Failure::input(format!("cannot read `{}`: {e}", key.display())))?;
    let digest = &loaded.compiled.policy().digest;
    let signature =
        ward_policy::sign_digest(digest, &secret).map_err(|e| Failure::input(e.to_string()))?;
    let target = sig.unwrap_or_else(|| signature_path(path));
    let json =
        serde_json::to_string_pretty(&signature).map_err(|e| Failure::failed(e.to_string()))?;
    fs::write(&target, format!("{json}\n"))
        .map_err(|e| Failure::failed(format!("cannot write `{}`: {e}", target.display())))?;
    write_out(out, &format!("signed {digest} -> {}\n", target.display()))
}

fn verify(
    path: &Path,
    key: &str,
    signature: Option<PathBuf>,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    let loaded = load_bundle(path)?;
    let public = if key.starts_with("ward-ed25519:") {
        key.to_owned()
    } else {
        fs::read_to_string(key)
            .map_err(|e| Failure::input(format!("cannot read key `{key}`: {e}")))?
    };
    let sig_path = signature.unwrap_or_else(|| signature_path(path));
    let bytes = fs::read(&sig_path)
        .map_err(|e| Failure::input(format!("cannot read `{}`: {e}", sig_path.display())))?;
    let sig: BundleSignature = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::input(format!("{}: {e}", sig_path.display())))?;
    let digest = &loaded.compiled.policy().digest;
    ward_policy::verify_digest(digest, &sig, &public)
        .map_err(|e| Failure::failed(format!("{}: {e}", path.display())))?;
    write_out(
        out,
        &format!("ok: {digest} is signed by key {}\n", sig.key_id),
    )
}

fn diff(old: &Path, new: &Path, json: bool, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let old = load_bundle(old)?;
    let new = load_bundle(new)?;
    let d = ward_policy::diff(&old.compiled, &new.compiled);
    if json {
        let text = serde_json::to_string_pretty(&d).map_err(|e| Failure::failed(e.to_string()))?;
        return write_out(out, &format!("{text}\n"));
    }
    let mut text = format!("{} -> {}\n", d.old, d.new);
    for (label, items) in [
        ("+ rule", &d.added_rules),
        ("- rule", &d.removed_rules),
        ("~ rule", &d.changed_rules),
        ("> rule moved", &d.reordered_rules),
        ("+ tool", &d.added_tools),
        ("- tool", &d.removed_tools),
        ("~ tool", &d.changed_tools),
    ] {
        for item in items {
            let _ = writeln!(text, "{label} {item}");
        }
    }
    if d.is_empty() {
        text.push_str("no rule or tool changed\n");
    }
    write_out(out, &text)
}
