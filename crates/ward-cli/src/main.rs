//! The `ward` binary: all of its logic lives in the `ward_cli` library.

fn main() {
    std::process::exit(ward_cli::run());
}
