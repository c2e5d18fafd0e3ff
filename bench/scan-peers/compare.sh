#!/usr/bin/env bash
# Ward's scanners now against a base revision, in one process:
# throughput of both, interleaved, and the difference of their findings.
#
#   bench/scan-peers/compare.sh REV [ROUNDS]    # e.g. REV=HEAD~1
#
# Builds, under target/scan-peers/compare/, a scratch workspace holding
# crates/ward-scan as of REV (renamed ward-scan-base) next to the working
# tree's crates/ward-scan.
set -euo pipefail

rev="${1:?usage: compare.sh REV [ROUNDS]}"
rounds="${2:-31}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ws="$root/target/scan-peers/compare"
rm -rf "$ws"
mkdir -p "$ws/base" "$ws/compare/src"

git -C "$root" archive "$rev" crates/ward-scan | tar -x -C "$ws/base"
base="$ws/base/crates/ward-scan"
sed -i 's/^name = "ward-scan"$/name = "ward-scan-base"/' "$base/Cargo.toml"
# Only the library is needed from the base.
sed -i '/^\[\[bench\]\]/,/^harness/d' "$base/Cargo.toml"
rm -rf "$base/benches" "$base/tests" "$base/examples"

# The root manifest's workspace tables, with paths made absolute.
{
  echo '[workspace]'
  echo 'resolver = "2"'
  echo 'members = ["base/crates/ward-scan", "compare"]'
  sed -n '/^\[workspace.package\]/,$p' "$root/Cargo.toml" |
    sed "s|path = \"crates/|path = \"$root/crates/|"
} > "$ws/Cargo.toml"
cp "$root/Cargo.lock" "$ws/Cargo.lock"
cat > "$ws/compare/Cargo.toml" <<TOML
[package]
name = "compare"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
ward-scan = { path = "$root/crates/ward-scan" }
ward-scan-base = { path = "../base/crates/ward-scan" }
serde_json.workspace = true
TOML
cp "$here/compare/main.rs" "$ws/compare/src/main.rs"

export CARGO_TARGET_DIR="$root/target/scan-peers/cargo"
cargo build --release --quiet --manifest-path "$ws/Cargo.toml" -p compare
bin="$CARGO_TARGET_DIR/release/compare"
export CORPUS_DIR="$root/testdata/scan"
"$bin" bench "$rounds"
"$bin" rows
"$bin" diff 20000 | tail -n 12
