//! The README's `ward-verify` commands, run as written, so the docs cannot drift.

use std::path::Path;
use std::process::Command;

#[test]
fn readme_verify_commands_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let prefix = "cargo run -p ward-verify -- ";
    let mut ran = 0;
    for line in readme.lines().filter_map(|l| l.trim().strip_prefix(prefix)) {
        let command = line.split('#').next().unwrap_or("").trim();
        // Lines with placeholders (OLD, NEW, PROOF) are templates, not examples.
        if command
            .split_whitespace()
            .any(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ward-verify"))
            .args(command.split_whitespace())
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{command}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(
        ran >= 2,
        "expected the README to show at least two runnable ward-verify commands"
    );
}
