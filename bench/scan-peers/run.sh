#!/usr/bin/env bash
# Scanner peers on Ward's labelled corpus (testdata/scan/): Presidio's
# analyzer and LLM Guard's Secrets and Regex scanners next to Ward's
# default scanner set, quality and throughput, in one go.
#
#   bench/scan-peers/run.sh            # ROUNDS=3 runs of each peer on 1 MiB
#
# Installs the peers into a venv under target/scan-peers/ (PyPI only; no
# model is downloaded: Presidio runs over a blank spaCy pipeline) and
# builds Ward's runner with cargo. Prints two markdown tables.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/target/scan-peers"
venv="$work/venv"
mkdir -p "$work"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip() { "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"; }
# Presidio's analyzer and its pattern recognizers; spaCy for the blank
# English tokenizer it runs on.
pip presidio-analyzer==2.2.366 spacy==3.8.18
# LLM Guard without its dependencies (torch, transformers, ... are for the
# model-based scanners): the Secrets and Regex scanners need only these.
pip --no-deps llm-guard==0.3.16
pip bc-detect-secrets==1.5.52 presidio-anonymizer==2.2.366 structlog

export CARGO_TARGET_DIR="$work/cargo"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
runner="$CARGO_TARGET_DIR/release/ward-scan-peers"

# tldextract (used by Presidio's URL recognizer) would fetch the public
# suffix list; there is no network for it here, so use its bundled copy.
export TLDEXTRACT_CACHE="$work/tldextract"
"$venv/bin/python" "$here/peers.py" "$runner" "$work"
