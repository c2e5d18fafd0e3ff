#!/usr/bin/env bash
# What a decision writes, at a fixed rate: starts `ward serve` on a fresh
# data directory with the bench bundle, warms up, runs the open loop at
# RATE/s for SECS seconds, and prints
#
#   - per server thread, the bytes it passed to write(2) and the write
#     calls it made, per decision (/proc/PID/task/*/io: the WAL frames of
#     each SQLite file and the checkpoints; the threads named
#     tokio-rt-worker write both the HTTP answers and the state store's
#     WAL, which runs on the blocking pool);
#   - the bytes the data directory's disk took per decision
#     (/proc/diskstats; anything else writing to that disk counts too);
#   - then, with the server stopped (SIGSTOP) so that its files hold still,
#     for audit.db and state.db: the WAL frames per commit, and which table
#     or index each frame's page belongs to (Python's sqlite3, whose SQLite
#     has the dbstat table).
#
#   bench/gate-load/writes.sh WARD RATE SECS
#   GATE_LOAD_IDEMPOTENT=1 bench/gate-load/writes.sh target/release/ward 2000 10
#
# Needs the release ward-gate-load (`cargo build --release` in
# bench/gate-load; GATE_LOAD_TARGET_DIR if it was built elsewhere) and
# python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
[[ $# -eq 3 ]] || { echo "usage: writes.sh WARD RATE SECS" >&2; exit 2; }
ward=$1 rate=$2 secs=$3
gl="${GATE_LOAD_TARGET_DIR:-$here/target}/release/ward-gate-load"
[[ -x "$ward" && -x "$gl" ]] || { echo "writes.sh: missing $ward or $gl" >&2; exit 1; }
command -v python3 >/dev/null || { echo "writes.sh: needs python3" >&2; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/ward-writes.XXXXXX")
"$gl" bundle "$out/bench.yaml"
"$ward" serve --listen 127.0.0.1:0 --data "$out/data" --bundle "$out/bench.yaml" 2>"$out/server.log" &
server=$!
trap 'kill -KILL "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
url=$(listening_url "$out/server.log" "$server" 30) || exit 1
key=$("$gl" setup "$url" "$(cat "$out/data/admin.key")")
"$gl" rate "$url" "$key" "$rate" 3 >/dev/null

# The data directory's block device, as /proc/diskstats names it.
device=$(basename "$(df --output=source "$out/data" | tail -1)")
sectors() { awk -v d="$device" '$3 == d { print $10 }' /proc/diskstats; }
# "THREAD BYTES CALLS", summed over the threads of each name.
thread_io() {
    local t
    for t in /proc/"$server"/task/*; do
        [[ -r "$t/io" ]] || continue
        printf '%s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(awk '/^wchar|^syscw/ { printf "%s ", $2 }' "$t/io")"
    done | awk '{ b[$1] += $2; c[$1] += $3 } END { for (k in b) print k, b[k], c[k] }' | sort
}
thread_io >"$out/io.before"
s0=$(sectors)
"$gl" rate "$url" "$key" "$rate" "$secs" | tee "$out/rate.txt" | sed -n 1p
thread_io >"$out/io.after"
s1=$(sectors)
kill -STOP "$server"
ok=$(sed -n 's/.* ok \([0-9]*\) errors.*/\1/p' "$out/rate.txt")
[[ ${ok:-0} -gt 0 ]] || { echo "writes.sh: no decision was answered" >&2; exit 1; }
join "$out/io.before" "$out/io.after" | awk -v n="$ok" '
    $4 > $2 { printf "%-24s %9.0f bytes %6.2f writes per decision\n", $1, ($4 - $2) / n, ($5 - $3) / n }'
if [[ -n "$s0" && -n "$s1" ]]; then
    echo "disk $device: $(( (s1 - s0) * 512 / ok )) bytes per decision"
fi

for db in audit state; do
    python3 - "$out/data/$db.db" <<'PY'
import collections, os, shutil, sqlite3, struct, sys, tempfile

src = sys.argv[1]
copy = tempfile.mkdtemp()
for suffix in ("", "-wal"):
    if os.path.exists(src + suffix):
        shutil.copy(src + suffix, os.path.join(copy, "db" + suffix))
wal = open(os.path.join(copy, "db-wal"), "rb").read()
if len(wal) < 32:
    print(f"{os.path.basename(src)}: the WAL is empty")
    sys.exit(0)
page = struct.unpack(">I", wal[8:12])[0]
salts = wal[16:24]
# The WAL's frames are those after its header whose salts are the header's;
# past them lie frames of an earlier pass through the file.
frames, at = [], 32
while at + 24 + page <= len(wal) and wal[at + 8:at + 16] == salts:
    number, commit_size = struct.unpack(">II", wal[at:at + 8])
    frames.append((number, commit_size != 0))
    at += 24 + page
commits, current = [], []
for number, ends in frames:
    current.append(number)
    if ends:
        commits.append(current)
        current = []
conn = sqlite3.connect(os.path.join(copy, "db"))
owner = {pageno: name for name, pageno in conn.execute("SELECT name, pageno FROM dbstat")}
tally = collections.Counter(owner.get(n, "(free or header)") for c in commits for n in c)
n = max(1, len(commits))
print(f"{os.path.basename(src)}: {page // 1024} KiB pages, {len(commits)} commits in the WAL, "
      f"{sum(map(len, commits)) / n:.2f} frames per commit:")
for name, count in tally.most_common():
    print(f"  {name:32} {count / n:6.2f}")
shutil.rmtree(copy)
PY
done
