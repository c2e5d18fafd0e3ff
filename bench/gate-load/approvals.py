"""Sequential distinct calls held for approval, against each `ward` build in
turn: the latency of a call that opens an approval (a state-store write and
an audit receipt) against a plain allowed refund (a receipt only). The
gate bench's mix repeats one held call, which after the first finds its
approval already open, so it never measures this (docs/benchmarks.md,
"Results, 2026-12-03 14:47").

    python3 bench/gate-load/approvals.py ROUNDS N WARD_BINARY...

Each run starts `WARD_BINARY serve` on a fresh data directory with the
bench bundle, sends N warm-up calls, then twice N held and N allowed calls,
and prints p50 / p90 / p99 per kind. Needs `ward-gate-load` (built by
run.sh; GATE_LOAD overrides its path).
"""
import http.client, json, os, re, shutil, subprocess, sys, tempfile, time

GL = os.environ.get("GATE_LOAD", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "target", "release", "ward-gate-load"))
BODY = {"action": "invoke",
        "actor": {"agent": {"id": "support-bot", "version": "1.4.0"},
                  "principal": {"attrs": {}, "id": "u-123", "kind": "user", "roles": ["support", "premium"]},
                  "session": "s-9f2", "tenant": "tenant-42"},
        "args": {"amount": 900.0, "order_id": "8812", "reason": "wrong item"},
        "context": {"order_age_days": 3}, "intervention": "pre_tool_call", "tool": "approve_refund"}

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

def run(ward, n):
    d = tempfile.mkdtemp(prefix="ward-approvals-")
    subprocess.run([GL, "bundle", f"{d}/bench.yaml"], check=True)
    log = open(f"{d}/server.log", "w+")
    srv = subprocess.Popen([ward, "serve", "--listen", "127.0.0.1:0",
                            "--data", f"{d}/data", "--bundle", f"{d}/bench.yaml"], stderr=log)
    try:
        url = None
        for _ in range(300):
            if srv.poll() is not None:
                log.seek(0)
                raise SystemExit(f"{ward} serve exited: {log.read()}")
            log.seek(0)
            m = re.search(r"^ward: listening on (http://\S+)$", log.read(), re.M)
            if m:
                url = m.group(1); break
            time.sleep(0.1)
        if url is None:
            raise SystemExit(f"{ward} serve did not start")
        admin = open(f"{d}/data/admin.key").read().strip()
        key = subprocess.run([GL, "setup", url, admin], check=True, capture_output=True, text=True).stdout.strip()
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        out = {}
        for kind in ("warm", "held", "allowed", "held", "allowed"):
            lat = []
            for i in range(n):
                body = json.loads(json.dumps(BODY))
                if kind == "allowed":
                    body["args"]["amount"] = 20.0
                body["args"]["order_id"] = str(10**9 * (1 + len(out)) + i)
                data = json.dumps(body)
                t = time.perf_counter()
                conn.request("POST", "/v1/decide", data, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                r = json.loads(conn.getresponse().read())
                lat.append((time.perf_counter() - t) * 1000)
                want = "allow" if kind == "allowed" else "require_approval"
                if kind != "warm" and r.get("outcome") != want:
                    raise SystemExit(f"{ward}: expected {want}, got {r}")
            out.setdefault(kind, []).extend(lat)
        return {k: (pct(v, 50), pct(v, 90), pct(v, 99)) for k, v in out.items() if k != "warm"}
    finally:
        srv.terminate(); srv.wait()
        shutil.rmtree(d, ignore_errors=True)

if len(sys.argv) < 4:
    raise SystemExit(__doc__)
rounds, n, wards = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for r in range(rounds):
    for w in wards:
        res = run(w, n)
        print(f"round {r + 1} {w} " + "  ".join(f"{k} p50 {a:.3f} p90 {b:.3f} p99 {c:.3f} ms" for k, (a, b, c) in res.items()), flush=True)
