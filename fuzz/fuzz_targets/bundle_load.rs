//! Any text given as a bundle loads or is refused with diagnostics; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(loaded) = ward_policy::load(&[("fuzz.yaml", text)]) {
            let _ = loaded.compiled.tool_names();
        }
    }
});
