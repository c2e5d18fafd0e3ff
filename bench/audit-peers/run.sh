#!/usr/bin/env bash
# Ward's audit log vs the Agent Governance Toolkit's, same entry count, one run.
#
#   bench/audit-peers/run.sh              # 100,000 entries
#   N=1000000 bench/audit-peers/run.sh    # one million
#   SKIP_AGT_FILE=1 ...                   # only AGT's in-memory log (faster)
#   AGT_N=100000 N=1000000 ...            # AGT at a smaller count than Ward
#
# Memory: AGT keeps every entry and Merkle node as a pydantic object; at
# 1,000,000 entries it passed 13 GB RSS before finishing its appends, so
# run.sh caps AGT at 200,000 entries unless AGT_ALLOW_BIG=1.
#
# Ward: append N decision entries (one tenant, ~1.1 KB each) through the real
# group-commit writer on SQLite (WAL, synchronous=FULL, one Ed25519-signed
# checkpoint per batch, a receipt with an inclusion proof for every entry),
# WARD_BENCH_TASKS concurrent tokio appenders (default 256); then export the
# log and run `ward-verify log` (release) on the export.
# AGT: agt_bench.py, single-threaded, see its docstring.
set -euo pipefail

N="${N:-100000}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${WORK:-$(mktemp -d /tmp/ward-peers.XXXXXX)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"

if [ ! -x "$HERE/.venv/bin/python" ]; then
  python3 -m venv "$HERE/.venv"
  "$HERE/.venv/bin/pip" install -q agent-governance-toolkit-core
fi

echo "building (release) ..." >&2
cargo build -q --release -p ward-verify
BENCH="$(cargo bench -q -p ward-audit --bench throughput --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "throughput" and m.get("executable"):
        print(m["executable"])')"
VERIFY="$CARGO_TARGET_DIR/release/ward-verify"

echo "ward: appending $N entries ..." >&2
WARD_LINE="$("$BENCH" --peer "$N" --export "$WORK/ward-export" | grep '^WARD_PEER')"
echo "$WARD_LINE" >&2
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

echo "ward: verifying the export ..." >&2
VERIFY_TIMES="$( { /usr/bin/time -f '%e %U %S' "$VERIFY" log "$WORK/ward-export" \
  --key @"$WORK/ward-export.vkey" >&2; } 2>&1 | tail -1)"
read -r V_WALL V_USER V_SYS <<<"$VERIFY_TIMES"

AGT_N="${AGT_N:-$N}"
if [ "$AGT_N" -gt 200000 ] && [ -z "${AGT_ALLOW_BIG:-}" ]; then
  echo "agt: $AGT_N entries needs well over 13 GB of RAM; running AGT at 200000 (AGT_ALLOW_BIG=1 to insist)" >&2
  AGT_N=200000
fi
echo "agt: appending $AGT_N entries ..." >&2
AGT_MODES=both
[ "${SKIP_AGT_FILE:-}" = 1 ] && AGT_MODES=memory
AGT_OUT="$(PYTHONWARNINGS=ignore "$HERE/.venv/bin/python" "$HERE/agt_bench.py" --entries "$AGT_N" \
  --mode "$AGT_MODES" --dir "$WORK" | grep '^AGT_PEER')"
echo "$AGT_OUT" >&2
AGT_MEM="$(grep 'mode=memory' <<<"$AGT_OUT" || true)"
AGT_FILE="$(grep 'mode=file' <<<"$AGT_OUT" || true)"

cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; }
printf '\n%s entries, %s, %s cores, load %s\n\n' "$N" "$(date -u +%FT%TZ)" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-44s | %12s | %10s | %12s | %s\n' "log" "append s" "entries/s" "verify s" "notes"
printf '|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' {1..46})" "-------------:" "-----------:" "-------------:" "------"
printf '| %-44s | %12s | %10s | %12s | %s\n' \
  "Ward, SQLite, $(field "$WARD_LINE" tasks) tokio appenders, $N entries" \
  "$(field "$WARD_LINE" append_s)" "$(field "$WARD_LINE" entries_per_s)" \
  "$V_WALL (cpu $(cpu "$V_USER" "$V_SYS"))" \
  "ack p50 $(field "$WARD_LINE" p50_ms) ms, p99 $(field "$WARD_LINE" p99_ms) ms; export $(field "$WARD_LINE" export_s) s; $(field "$WARD_LINE" checkpoints) signed checkpoints; receipt $(field "$WARD_LINE" receipt_bytes_end) B at size $(field "$WARD_LINE" receipt_tree_end)"
if [ -n "$AGT_MEM" ]; then
  printf '| %-44s | %12s | %10s | %12s | %s\n' "AGT AuditLog (in memory), $AGT_N entries" \
    "$(field "$AGT_MEM" append_s)" "$(field "$AGT_MEM" entries_per_s)" "$(field "$AGT_MEM" verify_s)" \
    "no persistence, no signature; verify = re-hash + chain"
fi
if [ -n "$AGT_FILE" ]; then
  printf '| %-44s | %12s | %10s | %12s | %s\n' "AGT AuditLog + FileAuditSink, $AGT_N entries" \
    "$(field "$AGT_FILE" append_s)" "$(field "$AGT_FILE" entries_per_s)" "$(field "$AGT_FILE" verify_s)" \
    "JSON lines, no fsync; verify = in-memory chain + file chain + HMAC"
fi
echo
echo "work directory: $WORK" >&2
