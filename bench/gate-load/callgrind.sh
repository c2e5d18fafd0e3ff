#!/usr/bin/env bash
# Counts the instructions `ward serve` executes per decision of the bench
# mix, under valgrind's callgrind: a count, not a time, so it repeats for
# the same binary and inputs whatever else the machine is doing, and two
# builds compare without the noise of a shared machine.
#
#   bench/gate-load/callgrind.sh [WARD_BINARY...]
#
# For each binary (default: $CARGO_TARGET_DIR/release/ward, else
# target/release/ward) it starts the server under callgrind with a fresh
# data directory and the 1,000-rule bench bundle, registers the agent,
# warms up, zeroes the counters, sends RATE decisions/s for SECS seconds
# (default 40/s for 25 s: 1,000 decisions, one per commit), dumps the
# counters and prints the inclusive instructions per decision of the tokio
# workers (HTTP, JSON, the pipeline) and of the audit writer, with the
# profile's path for callgrind_annotate.
#
# valgrind runs SHA-256 in software (it does not offer the SHA extensions
# to the program), so digests weigh more here than they do natively.
# Needs valgrind (Debian's package) and the release ward-gate-load
# (`cargo build --release` in bench/gate-load).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/../.." && pwd)
RATE=${RATE:-40}
SECS=${SECS:-25}
gl="${GATE_LOAD_TARGET_DIR:-$here/target}/release/ward-gate-load"
[[ $# -gt 0 ]] || set -- "${CARGO_TARGET_DIR:-$root/target}/release/ward"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
[[ -x "$gl" ]] || { echo "callgrind.sh: missing $gl" >&2; exit 1; }

for ward in "$@"; do
    [[ -x "$ward" ]] || { echo "callgrind.sh: missing $ward" >&2; exit 1; }
    out=$(mktemp -d "${TMPDIR:-/tmp}/ward-callgrind.XXXXXX")
    "$gl" bundle "$out/bench.yaml"
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
        "$ward" serve --listen 127.0.0.1:0 --data "$out/data" --bundle "$out/bench.yaml" \
        2>"$out/server.log" &
    server=$!
    trap 'kill -TERM "$server" 2>/dev/null || true' EXIT
    url=$(listening_url "$out/server.log" "$server" 120) || exit 1
    key=$("$gl" setup "$url" "$(cat "$out/data/admin.key")")
    "$gl" rate "$url" "$key" "$RATE" 5 >/dev/null
    callgrind_control -z "$server" >/dev/null 2>&1
    "$gl" rate "$url" "$key" "$RATE" "$SECS" >"$out/rate.txt"
    callgrind_control -d "$server" >/dev/null 2>&1
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    trap - EXIT
    profile=$(ls "$out"/cg.*.1)
    ok=$(sed -n 's/.* ok \([0-9]*\) errors.*/\1/p' "$out/rate.txt")
    callgrind_annotate --inclusive=yes "$profile" 2>/dev/null | awk -v ok="$ok" -v ward="$ward" -v p="$profile" '
        function per(line) { gsub(",", "", line); split(line, f, " "); return f[1] / ok / 1000 }
        /PROGRAM TOTALS/ { total = per($0) }
        /multi_thread::worker::run \[/ { workers = per($0) }
        /WriterState::process \[/ { writer = per($0) }
        /decide::judge::\{\{closure\}\} \[/ { judge = per($0) }
        END { printf "%s: %d decisions | k instructions per decision: all %.0f, tokio workers %.0f (of it the decide handler %.0f), audit writer %.0f | %s\n", ward, ok, total, workers, judge, writer, p }'
done
