#!/usr/bin/env bash
# Reproduces the gate benchmark of docs/benchmarks.md ("Gate (HTTP, `ward
# serve`)") from a clone: builds `ward` and the load generator in release,
# starts `ward serve` on loopback with a fresh data directory and the
# 1,000-rule bench bundle, registers the agent, then runs
#
#   - a 5 s warm-up (not reported);
#   - REPEAT rounds of: closed-loop saturation at each of CONNS, and the
#     open-loop rates of RATES (rounds are interleaved so that noise on a
#     shared machine spreads over every figure);
#   - with SOAK_SECS > 0, a restart of the server on the same data
#     directory, a soak at SOAK_RATE/s sampling the server's RSS every
#     SOAK_EVERY s, then one more saturation run on the grown data
#     directory.
#
# For each run it also records the gate's own mean time per decision and
# per pipeline stage (from /metrics) and the load average; for each
# saturation run, the CPU time of each server thread (from
# /proc/PID/task/*/stat) and of the load generator. Everything goes to OUT (a temporary directory unless set);
# the summary (medians over the rounds) is printed at the end.
#
#   bench/gate-load/run.sh                         # about 5 minutes
#   SOAK_SECS=600 bench/gate-load/run.sh           # plus the 10-minute soak
#   SKIP_BUILD=1 REPEAT=3 CONNS="64" RATES="5000" bench/gate-load/run.sh
#   SAT_GEN=gate-load bench/gate-load/run.sh       # closed loop by ward-gate-load, not wrk
#   GATE_LOAD_MIX=refund_small_allow:100 bench/gate-load/run.sh   # one kind of call alone
#
# The closed loop runs on Debian's wrk (apt-get install wrk) when it is
# installed, with the mix as a Lua script (`ward-gate-load wrk-script`);
# the open loop always runs on ward-gate-load.
#
# Only loopback is used; every run is bounded in time and stops by itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/../.." && pwd)

REPEAT=${REPEAT:-2}
CONNS=${CONNS:-"16 64 256"}
SAT_SECS=${SAT_SECS:-20}
RATES=${RATES:-"1000 5000 10000"}
RATE_SECS=${RATE_SECS:-30}
SOAK_SECS=${SOAK_SECS:-0}
SOAK_RATE=${SOAK_RATE:-2000}
SOAK_EVERY=${SOAK_EVERY:-10}
# The closed-loop generator: Debian's wrk (C; far less CPU per request, so
# more of the machine goes to the gate) when it is installed, else
# ward-gate-load. WRK_THREADS is wrk's -t.
SAT_GEN=${SAT_GEN:-$(command -v wrk >/dev/null && echo wrk || echo gate-load)}
WRK_THREADS=${WRK_THREADS:-1}
case $SAT_GEN in wrk | gate-load) ;; *) echo "run.sh: SAT_GEN is wrk or gate-load, not $SAT_GEN" >&2; exit 2 ;; esac
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ward-gate-bench.XXXXXX")}
mkdir -p "$OUT"

if [[ -z "${SKIP_BUILD:-}" ]]; then
    (cd "$root" && cargo build --release -p ward-cli)
    (cd "$here" && cargo build --release)
fi
ward="${CARGO_TARGET_DIR:-$root/target}/release/ward"
gl="${GATE_LOAD_TARGET_DIR:-$here/target}/release/ward-gate-load"
[[ -x "$ward" && -x "$gl" ]] || { echo "run.sh: missing $ward or $gl" >&2; exit 1; }

data="$OUT/data"
log="$OUT/server.log"
results="$OUT/results.txt"
: >"$results"
"$gl" bundle "$OUT/bench-1000.yaml"

server=""
stop_server() {
    if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" 2>/dev/null || true
    fi
    server=""
}
trap stop_server EXIT

start_server() {
    [[ -f "$log" ]] && mv "$log" "$log.prev"
    "$ward" serve --listen 127.0.0.1:0 --data "$data" --bundle "$OUT/bench-1000.yaml" 2>"$log" &
    server=$!
    url=$(listening_url "$log" "$server" 30) || exit 1
}
start_server
key=$("$gl" setup "$url" "$(cat "$data/admin.key")")
[[ $SAT_GEN == wrk ]] && "$gl" wrk-script "$url" "$key" "$OUT/mix.lua"

# "TID NAME TICKS" for every thread of the server.
thread_ticks() {
    local t
    for t in /proc/"$server"/task/*; do
        [[ -r "$t/stat" ]] || continue
        printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
            "$(awk '{print $14 + $15}' "$t/stat")"
    done | sort -n
}

# Per-thread CPU of the server between two thread_ticks snapshots, in % of
# one core. Tokio names its workers and its blocking-pool threads alike; the
# runtime has one worker per core (`nproc`), and they are the busiest tokio
# threads (perf shows the HTTP, JSON and policy stacks on them), so those are
# counted as workers and the rest as the blocking pool, where the state
# store's SQLite calls run.
thread_share() {
    local before=$1 after=$2 secs=$3 hz
    hz=$(getconf CLK_TCK)
    join <(sort "$before") <(sort "$after") | awk -v s="$secs" -v hz="$hz" '{ print ($5 - $3) / hz / s * 100, $2 }' |
        sort -rn | awk -v w="$(nproc)" '
        { d = $1; name = $2
          if (name ~ /^tokio/) { if (seen < w) { name = "tokio workers"; seen++ } else name = "blocking pool" }
          else if (name ~ /^ward-audit-writ/) name = "ward-audit-writer"
          else if (name ~ /^ward-audit-chec/) name = "ward-audit-checkpoint"
          else name = "other"
          cpu[name] += d; total += d }
        END { printf "server cpu %.0f%% (", total
              n = split("tokio workers|blocking pool|ward-audit-writer|ward-audit-checkpoint|other", order, "|")
              for (i = 1; i <= n; i++) printf "%s%s %.0f%%", (i > 1 ? ", " : ""), order[i], cpu[order[i]]
              printf ")" }'
}

# The gate's own timing, from /metrics: "NAME SUM COUNT" for the decision
# histogram and each pipeline stage.
metrics_snapshot() {
    curl -s -m 5 "$url/metrics" | awk '
        /^ward_decision_seconds_(sum|count)[{ ]/ { k = "decision" }
        /^ward_stage_seconds_(sum|count)[{ ]/ { match($0, /stage="[a-z_]+"/); k = substr($0, RSTART + 7, RLENGTH - 8) }
        /^ward_(decision|stage)_seconds_sum[{ ]/ { sum[k] += $NF }
        /^ward_(decision|stage)_seconds_count[{ ]/ { cnt[k] += $NF }
        END { for (k in sum) printf "%s %.6f %d\n", k, sum[k], cnt[k] }' | sort
}

# Mean time per decision inside the engine between two snapshots, in ms.
engine_means() {
    join "$1" "$2" | awk '
        { n = $5 - $3; m[$1] = n > 0 ? ($4 - $2) / n * 1000 : 0 }
        END { printf "engine mean %.3f ms (receipt %.3f, state %.3f, evaluate %.3f, authenticate %.3f, admission %.3f)",
                     m["decision"], m["receipt"], m["state"], m["evaluate"], m["authenticate"], m["admission"] }'
}

db_size() { du -sm "$data" | cut -f1; }

# One closed-loop run with the generator of SAT_GEN, printing its result line.
closed_loop() {
    local conns=$1 secs=$2
    if [[ $SAT_GEN == wrk ]]; then
        # wrk needs at least one connection per thread.
        WRK_CONNS=$conns wrk -t "$(( conns < WRK_THREADS ? conns : WRK_THREADS ))" -c "$conns" \
            -d "${secs}s" --timeout 10s -s "$OUT/mix.lua" "$url/v1/decide" | grep '^saturate'
    else
        "$gl" saturate "$url" "$key" "$conns" "$secs"
    fi
}

saturate() {
    local conns=$1 secs=$2 label=$3 t0 t1 m0 m1 line gen
    t0=$(mktemp) t1=$(mktemp)
    m0=$(mktemp) m1=$(mktemp)
    metrics_snapshot >"$m0"
    thread_ticks >"$t0"
    local loadavg
    loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
    gen=$( { TIMEFORMAT='%U %S %R'; time closed_loop "$conns" "$secs" >"$OUT/last.txt"; } 2>&1 )
    thread_ticks >"$t1"
    metrics_snapshot >"$m1"
    line=$(cat "$OUT/last.txt")
    local share
    share=$(thread_share "$t0" "$t1" "$secs")
    read -r u s r <<<"$gen"
    printf '%s | %s | %s | generator cpu %.0f%% | load %s | data %s MB\n' \
        "$label $line" "$(engine_means "$m0" "$m1")" "$share" \
        "$(awk -v u="$u" -v s="$s" -v r="$r" 'BEGIN{print (u+s)/r*100}')" \
        "$loadavg" "$(db_size)" | tee -a "$results"
    rm -f "$t0" "$t1" "$m0" "$m1"
}

open_loop() {
    local rate=$1 secs=$2 label=$3 loadavg line m0 m1
    m0=$(mktemp) m1=$(mktemp)
    metrics_snapshot >"$m0"
    loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
    line=$("$gl" rate "$url" "$key" "$rate" "$secs")
    metrics_snapshot >"$m1"
    printf '%s | %s | load %s | data %s MB\n' "$label $line" "$(engine_means "$m0" "$m1")" \
        "$loadavg" "$(db_size)" | tee -a "$results"
    rm -f "$m0" "$m1"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -sr), ward $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), closed loop by $SAT_GEN" | tee -a "$results"
echo "# url $url, data $data" | tee -a "$results"
"$gl" saturate "$url" "$key" 16 5 >/dev/null  # warm-up

# The disk's own floor under a durable receipt, before and after the rounds.
"$gl" flush-probe "$OUT" 2000 | sed 's/^/[disk before] /' | tee -a "$results"
for round in $(seq 1 "$REPEAT"); do
    for c in $CONNS; do saturate "$c" "$SAT_SECS" "[round $round]"; done
    for r in $RATES; do open_loop "$r" "$RATE_SECS" "[round $round]"; done
done

"$gl" flush-probe "$OUT" 2000 | sed 's/^/[disk after] /' | tee -a "$results"

if (( SOAK_SECS > 0 )); then
    # A new server process on the same (grown) data directory: the overload
    # of the 10k/s runs leaves the allocator holding memory, which is not
    # what a steady rate does.
    stop_server
    start_server
    "$gl" saturate "$url" "$key" 16 5 >/dev/null  # warm-up
    soak="$OUT/soak.csv"
    "$gl" soak "$url" "$key" "$SOAK_RATE" "$SOAK_SECS" "$server" "$SOAK_EVERY" >"$soak"
    # Warm-up: the first 60 s (or the first tenth of a shorter soak).
    awk -F, -v warm="$(( SOAK_SECS >= 600 ? 60 : SOAK_SECS / 10 ))" '
        $1 ~ /^[0-9]+$/ { n++; if (n == 1) first = $2; last = $2
                          if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2
                          if ($1 >= warm) { if (wmin == "" || $2 < wmin) wmin = $2; if ($2 > wmax) wmax = $2 } }
        $1 == "end" { last = $2 }
        /^rate/ { summary = $0 }
        END { printf "[soak] rss MiB: start %.1f end %.1f min %.1f max %.1f; after %d s warm-up min %.1f max %.1f, spread %.1f%% of min | %s\n",
                     first/1024, last/1024, min/1024, max/1024, warm, wmin/1024, wmax/1024, (wmax - wmin) / wmin * 100, summary }' \
        "$soak" | tee -a "$results"
    saturate 64 "$SAT_SECS" "[after soak]"
fi

stop_server

# Medians over the rounds: ok/s, p50 and p99 for each run.
echo
echo "## medians over $REPEAT rounds (results in $results)"
grep '^\[round' "$results" | awk '
    { split($0, p, " \\| "); head = p[1]
      sub(/^\[round [0-9]+\] /, "", head); split(head, h, ":"); run = h[1]
      match(head, /[0-9.]+ ok\/s/); ok = substr(head, RSTART, RLENGTH - 5)
      match(p[2], /p50 [0-9.]+/); p50 = substr(p[2], RSTART + 4, RLENGTH - 4)
      match(p[2], /p99 [0-9.]+/); p99 = substr(p[2], RSTART + 4, RLENGTH - 4)
      match(p[3], /errors .*dropped [0-9]+/); err = substr(p[3], RSTART, RLENGTH)
      n[run]++; oks[run, n[run]] = ok; p50s[run, n[run]] = p50; p99s[run, n[run]] = p99; errs[run] = errs[run] " [" err "]"
      if (!(run in seen)) { seen[run] = 1; order[++runs] = run } }
    function median(arr, run, k,    i, j, t, v) {
        for (i = 1; i <= k; i++) v[i] = arr[run, i] + 0
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
    END { for (r = 1; r <= runs; r++) { run = order[r]; k = n[run]
              printf "%-22s %8.0f ok/s  p50 %7.3f ms  p99 %8.3f ms %s\n", run, median(oks, run, k),
                     median(p50s, run, k), median(p99s, run, k), errs[run] } }'
