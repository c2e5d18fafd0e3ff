#!/usr/bin/env python3
"""Append N decision-like entries to the Agent Governance Toolkit's audit log
and run its full verification, timing both.

Two configurations of `agentmesh.governance.audit` (PyPI package
`agent-governance-toolkit-core`):

* `memory`: `AuditLog()` -- entries in a Python list, hash-chained, with the
  in-memory `MerkleAuditChain` updated on every append; verification is
  `AuditLog.verify_integrity()` (re-hash every entry, check the chain).
* `file`: `AuditLog(sink=FileAuditSink(path, key))` -- the same, plus every
  entry written as a JSON line with an HMAC-SHA256 tag (no fsync; the file
  is opened and closed per line); verification is the sink's
  `verify_integrity()` (re-read the file, check chain and every HMAC).

Entries carry the same content as Ward's bench entries (tool, principal,
agent, arguments, reasons, policy name/version/digest), about 1 KB as JSON.

Prints one machine-readable line per configuration:
  AGT_PEER mode=... entries=... append_s=... entries_per_s=... verify_s=... bytes=...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time


def entry_fields(n: int) -> dict:
    args = {
        "amount": n % 1000,
        "order_id": f"o-{n}",
        "currency": "EUR",
        "reason": "customer reports the parcel arrived damaged",
    }
    return {
        "event_type": "policy_evaluation",
        "agent_did": "did:agentmesh:refund-bot",
        "action": "approve_refund",
        "resource": "acme",
        "outcome": "success",
        "policy_decision": "allow",
        "trace_id": f"dec_{n:08}",
        "data": {
            "tenant": "acme",
            "intervention": "pre_tool_call",
            "principal": {"id": f"u-{n % 97}", "kind": "user", "roles": ["support"]},
            "session": f"s-{n % 13}",
            "agent": {"id": "refund-bot", "version": "1.4.0"},
            "args": args,
            "args_digest": "sha256:"
            + hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest(),
            "reasons": [
                {
                    "code": "rule",
                    "rule": "refunds.small",
                    "message": "amount under the auto-approve limit",
                }
            ],
            "policy": {
                "name": "support",
                "version": "2.4.1",
                "digest": "sha256:" + "28" * 32,
            },
            "mode": "enforce",
        },
    }


def run(mode: str, n: int, workdir: str) -> None:
    from agentmesh.governance.audit import AuditLog
    from agentmesh.governance.audit_backends import FileAuditSink

    path = os.path.join(workdir, f"agt-{mode}-{n}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    sink = FileAuditSink(path, secret_key=b"k" * 32) if mode == "file" else None
    log = AuditLog(sink=sink)
    fields = [entry_fields(i) for i in range(n)]
    t0 = time.perf_counter()
    for f in fields:
        log.log(**f)
    append_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    ok, err = log.verify_integrity()
    if not ok:
        sys.exit(f"AGT in-memory verification failed: {err}")
    if sink is not None:
        ok, err = sink.verify_integrity()
        if not ok:
            sys.exit(f"AGT file verification failed: {err}")
    verify_s = time.perf_counter() - t1
    size = os.path.getsize(path) if sink is not None else 0
    sample = log._chain._entries[0].model_dump_json()  # noqa: SLF001 (size only)
    print(
        f"AGT_PEER mode={mode} entries={n} append_s={append_s:.3f} "
        f"entries_per_s={n / append_s:.0f} verify_s={verify_s:.3f} "
        f"file_bytes={size} entry_json_bytes={len(sample)}",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--mode", choices=["memory", "file", "both"], default="both")
    p.add_argument("--dir", default=tempfile.gettempdir())
    a = p.parse_args()
    for mode in ["memory", "file"] if a.mode == "both" else [a.mode]:
        run(mode, a.entries, a.dir)


if __name__ == "__main__":
    main()
