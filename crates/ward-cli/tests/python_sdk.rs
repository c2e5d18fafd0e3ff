//! The Python SDK's tests (`sdk/python`), run against this build's `ward`.
//!
//! `sdk/python/run-tests.sh` installs the SDK and its framework extras into
//! `target/py-venv` when they changed, then runs pytest, whose tests start
//! `ward serve` from `WARD_BIN`. This is how `cargo test --workspace` (and
//! so CI) runs them.

use std::path::Path;
use std::process::Command;

#[test]
fn python_sdk_tests_pass_against_this_ward() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/python");
    let output = Command::new("bash")
        .arg(sdk.join("run-tests.sh"))
        .args(["-q", "--color=no"])
        .env("WARD_BIN", env!("CARGO_BIN_EXE_ward"))
        .current_dir(&sdk)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run sdk/python/run-tests.sh: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python SDK's tests failed ({}):\n--- pytest ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // pytest's closing line, for `cargo test -- --nocapture`.
    println!("{}", stdout.lines().last().unwrap_or_default());
}
