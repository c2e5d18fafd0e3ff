"""Added latency of a guarded tool call, against the same call unguarded.

Starts its own `ward serve` (the support example bundle, data in a temporary
directory, a loopback port), provisions an agent over HTTP, then times, one
call at a time on one kept-alive connection:

- `unguarded`: the tool function alone (`lookup_order`, returning a dict);
- `raw decide`: a bare `httpx` POST of the same `/v1/decide` body, the
  floor for any client (HTTP plus the gate's decision);
- `client.decide`: the SDK's decision call (request model, POST, strict
  parse of the Decision);
- `guard.call`: the whole guarded call: decide, run the tool, report the
  result with `/v1/observe` and read the answer;
- `guard.acall`: the same with the async client.

Added latency is each figure minus `unguarded`. The gate's own time per
decision, from its `ward_decision_seconds` metric, is printed alongside.

    python sdk/python/bench/overhead.py [--ward target/release/ward] [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx

import ward

REPO = Path(__file__).resolve().parents[3]


def start(binary: str, data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("ward: listening on "):
                found.append(line.split()[-1])
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        proc.kill()
        sys.exit("ward serve did not start")
    return proc, found[0]


def provision(base: str, operator: str) -> str:
    h = {"authorization": f"Bearer {operator}"}
    with httpx.Client(base_url=base, headers=h) as c:
        c.post("/v1/agents", json={
            "id": "support-bot", "version": "1.0.0", "model": {"provider": "bench", "id": "none"},
            "prompt_digest": "sha256:" + "ab" * 32, "owner": "bench@example.com",
            "environment": "bench"}).raise_for_status()
        r = c.post("/v1/api-keys", json={"tenant": "acme", "principal": "svc-support",
                                         "kind": "service", "roles": ["support"],
                                         "agent": "support-bot"})
        r.raise_for_status()
        return r.json()["key"]


def decision_seconds(base: str) -> tuple[float, int]:
    text = httpx.get(f"{base}/metrics").text
    total, count = 0.0, 0
    for name, var in (("sum", "total"), ("count", "count")):
        for m in re.finditer(rf"^ward_decision_seconds_{name}\{{[^}}]*\}} (\S+)$", text, re.M):
            if var == "total":
                total += float(m.group(1))
            else:
                count += int(float(m.group(1)))
    return total, count


def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


async def alookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


def canned(request: httpx.Request) -> httpx.Response:
    """A gate that answers at once, to time the SDK's own work."""
    if request.url.path == "/v1/observe":
        return httpx.Response(200, content=CANNED_OBSERVE)
    return httpx.Response(200, content=CANNED_DECIDE)


CANNED_DECIDE = b""
CANNED_OBSERVE = b""


def timed(fn: Callable[[], Any], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


async def atimed(fn: Callable[[], Any], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await fn()
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await fn()
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000, method="inclusive")[int(p * 10) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REPO / "target" / "release" / "ward"
    ap.add_argument("--ward", default=os.environ.get("WARD_BIN") or str(default))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc, base = start(args.ward, data)
        try:
            key = provision(base, (data / "admin.key").read_text().strip())
            actor = ward.Actor.service("svc-support", tenant="acme", agent="support-bot",
                                       version="1.0.0", session="s-bench")
            client = ward.Client(base, key, actor)
            guard = ward.Guard(client)
            body = guard.request("lookup_order", {"order_id": "8812"}).to_wire()
            raw = httpx.Client(base_url=base, headers={"authorization": f"Bearer {key}"})
            assert guard.call("lookup_order", lookup_order, {"order_id": "8812"})["status"]

            rows: list[tuple[str, list[float], int]] = []
            rows.append(("unguarded", timed(lambda: lookup_order("8812"), args.n,
                                            args.warmup), 0))

            def measure(name: str, fn: Callable[[], Any], decisions: int) -> None:
                before = decision_seconds(base)
                xs = timed(fn, args.n, args.warmup)
                rows.append((name, xs, decisions))
                after = decision_seconds(base)
                server[name] = (after[0] - before[0]) / max(1, after[1] - before[1])

            server: dict[str, float] = {}
            measure("raw decide (httpx)", lambda: raw.post("/v1/decide", json=body).json(), 1)
            measure("client.decide", lambda: client.decide(guard.request(
                "lookup_order", {"order_id": "8812"})), 1)
            measure("guard.call", lambda: guard.call("lookup_order", lookup_order,
                                                     {"order_id": "8812"}), 2)

            async def run_async() -> list[float]:
                async def one() -> Any:
                    return await guard.acall("lookup_order", alookup_order,
                                             {"order_id": "8812"})
                return await atimed(one, args.n, args.warmup)

            before = decision_seconds(base)
            rows.append(("guard.acall", asyncio.run(run_async()), 2))
            after = decision_seconds(base)
            server["guard.acall"] = (after[0] - before[0]) / max(1, after[1] - before[1])

            # The SDK's own work, against a gate that answers at once (no socket).
            global CANNED_DECIDE, CANNED_OBSERVE
            CANNED_DECIDE = raw.post("/v1/decide", json=body).content
            CANNED_OBSERVE = raw.post("/v1/observe", json={"request": guard._result_request(
                guard.check("lookup_order", {"order_id": "8812"}), "x").to_wire()}).content
            mock = ward.Client(base, key, actor, transport=httpx.MockTransport(canned))
            mock_guard = ward.Guard(mock)
            mock_raw = httpx.Client(base_url=base, transport=httpx.MockTransport(canned))
            rows.append(("raw httpx, no gate", timed(
                lambda: mock_raw.post("/v1/decide", json=body).json(), args.n, args.warmup), 0))
            rows.append(("guard.call, no gate", timed(lambda: mock_guard.call(
                "lookup_order", lookup_order, {"order_id": "8812"}), args.n, args.warmup), 0))

            base50, base99 = pct(rows[0][1], 50), pct(rows[0][1], 99)
            print(f"ward {args.ward}, n={args.n} per row after {args.warmup} warm-up calls, "
                  "one call at a time, keep-alive")
            print(f"{'call':<20} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10}"
                  f" {'gate ms/decision':>17}")
            for name, xs, decisions in rows:
                p50, p99 = pct(xs, 50), pct(xs, 99)
                gate = f"{server[name] * 1000:.3f} x{decisions}" if name in server else "-"
                print(f"{name:<20} {p50:>8.3f} {p99:>8.3f} {p50 - base50:>10.3f} "
                      f"{p99 - base99:>10.3f} {gate:>17}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
