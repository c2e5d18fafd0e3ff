#!/usr/bin/env bash
# Where a decision's time goes at a fixed rate, from the gate's own
# histograms: starts `ward serve` on a fresh data directory with the bench
# bundle, warms up, scrapes /metrics, runs the open loop at RATE/s for SECS
# seconds, scrapes again, and prints for each pipeline stage the share of
# decisions that finished it under 0.5, 1, 2, 5, 10 and 50 ms.
#
#   bench/gate-load/stages.sh WARD RATE SECS
#   GATE_LOAD_IDEMPOTENT=1 bench/gate-load/stages.sh target/release/ward 2000 10
#
# Needs the release ward-gate-load (`cargo build --release` in
# bench/gate-load; GATE_LOAD_TARGET_DIR if it was built elsewhere).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
[[ $# -eq 3 ]] || { echo "usage: stages.sh WARD RATE SECS" >&2; exit 2; }
ward=$1 rate=$2 secs=$3
gl="${GATE_LOAD_TARGET_DIR:-$here/target}/release/ward-gate-load"
[[ -x "$ward" && -x "$gl" ]] || { echo "stages.sh: missing $ward or $gl" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/ward-stages.XXXXXX")
"$gl" bundle "$out/bench.yaml"
"$ward" serve --listen 127.0.0.1:0 --data "$out/data" --bundle "$out/bench.yaml" 2>"$out/server.log" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' EXIT
url=$(listening_url "$out/server.log" "$server" 30) || exit 1
key=$("$gl" setup "$url" "$(cat "$out/data/admin.key")")
"$gl" rate "$url" "$key" "$rate" 5 >/dev/null
curl -sf "$url/metrics" >"$out/before"
"$gl" rate "$url" "$key" "$rate" "$secs" | sed -n 1p
curl -sf "$url/metrics" >"$out/after"

# "LE COUNT" summed over every label set of one stage's histogram.
buckets() {
    grep "^ward_stage_seconds_bucket{.*stage=\"$2\"" "$1" |
        sed 's/.*le="\([^"]*\)".* \([0-9.e+]*\)$/\1 \2/' |
        awk '{ n[$1] += $2 } END { for (k in n) print k, n[k] }' | sort
}
for stage in authenticate admission idempotency evaluate state receipt; do
    join <(buckets "$out/before" "$stage") <(buckets "$out/after" "$stage") |
        awk -v stage="$stage" '
            { d[$1] = $3 - $2; if ($1 == "+Inf") total = $3 - $2 }
            END {
                printf "%-12s n=%7d", stage, total
                if (total == 0) { print ""; exit }
                n = split("0.0005 0.001 0.002 0.005 0.01 0.05", le, " ")
                for (i = 1; i <= n; i++) printf "  <%gms %6.2f%%", le[i] * 1000, 100 * d[le[i]] / total
                print ""
            }'
done
kill -TERM "$server"
wait "$server" 2>/dev/null || true
trap - EXIT
rm -rf "$out"
