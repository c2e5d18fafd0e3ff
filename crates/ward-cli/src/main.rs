//! The `ward` binary: all of its logic lives in the `ward_cli` library.

/// mimalloc rather than glibc's malloc: a decision allocates and frees
/// many small objects on one thread and drops some on another, where
/// glibc spent about an eighth of the gate's CPU (docs/benchmarks.md,
/// *Gate*).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(ward_cli::run());
}
