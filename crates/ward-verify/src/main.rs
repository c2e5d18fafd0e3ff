//! The `ward-verify` binary; all logic lives in the library.

fn main() -> std::process::ExitCode {
    ward_verify::cli::main()
}
