"""A real `ward serve` for the tests, provisioned over HTTP.

One gate per test session, on a loopback port with its data in a temporary
directory. Its bundle is the support example plus `bundle/sdk-tests.yaml`.
The binary is `$WARD_BIN`, else `target/debug/ward` in the repository.
Each test acts in its own session, so provenance and idempotency keys never
leak between tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import pytest

import ward

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
os.environ.setdefault("LANGSMITH_TRACING", "false")


def ward_bin() -> Path:
    path = Path(os.environ.get("WARD_BIN") or REPO / "target" / "debug" / "ward")
    if not path.is_file():
        pytest.exit(
            f"ward binary not found at {path}: build it with `cargo build -p ward-cli` "
            "or set WARD_BIN",
            returncode=2,
        )
    return path


class Served:
    """A `ward serve` process; its stderr is kept for failure messages."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.log: list[str] = []
        found = threading.Event()
        self.base = ""

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                if line.startswith("ward: listening on "):
                    self.base = line.removeprefix("ward: listening on ").strip()
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(60):
            self.stop()
            raise RuntimeError("ward serve did not start:\n" + "".join(self.log))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


AGENT = {"id": "support-bot", "version": "1.0.0"}


@dataclass
class Gate:
    base: str
    operator: str
    agent_key: str
    finance_key: str
    served: Served
    http: httpx.Client = field(default_factory=httpx.Client)

    def actor(self, session: Optional[str] = None, principal: str = "svc-support",
              kind: str = "service") -> ward.Actor:
        return ward.Actor(
            principal=ward.Principal(id=principal, kind=kind),  # type: ignore[arg-type]
            tenant="acme", session=session or f"s-{uuid.uuid4().hex[:10]}",
            agent=ward.AgentRef(**AGENT))

    def client(self, session: Optional[str] = None, **kwargs: Any) -> ward.Client:
        """The support agent's client, in a fresh session."""
        return ward.Client(self.base, self.agent_key, self.actor(session), **kwargs)

    def finance(self) -> ward.Client:
        """A second identity: finance approver fin-1 (a user)."""
        return ward.Client(self.base, self.finance_key, self.actor(principal="fin-1",
                                                                   kind="user"))

    def env(self, session: Optional[str] = None) -> dict[str, str]:
        """What `ward.Client.from_env()` reads."""
        return {"WARD_URL": self.base, "WARD_API_KEY": self.agent_key, "WARD_TENANT": "acme",
                "WARD_PRINCIPAL": "svc-support", "WARD_AGENT": AGENT["id"],
                "WARD_AGENT_VERSION": AGENT["version"],
                "WARD_SESSION": session or f"s-{uuid.uuid4().hex[:10]}"}

    def post(self, path: str, body: Any, key: Optional[str] = None) -> Any:
        r = self.http.post(self.base + path, json=body,
                           headers={"authorization": f"Bearer {key or self.operator}"})
        assert 200 <= r.status_code < 300, f"POST {path}: {r.status_code} {r.text}"
        return r.json()

    def get(self, path: str, key: Optional[str] = None) -> Any:
        r = self.http.get(self.base + path,
                          headers={"authorization": f"Bearer {key or self.operator}"})
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        return r.json()

    def executions(self, decision_id: str) -> list[dict[str, Any]]:
        """The audit log's execution entries for a decision."""
        q = self.get("/v1/audit/query?tenant=acme&kind=execution&limit=1000")
        return [e for log in q["logs"] for e in log["entries"]
                if e["entry"].get("decision_id") == decision_id]


@pytest.fixture(scope="session")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    binary = ward_bin()
    root = tmp_path_factory.mktemp("gate")
    bundle = root / "bundle"
    bundle.mkdir()
    shutil.copy(REPO / "examples" / "bundles" / "support" / "bundle.yaml", bundle / "bundle.yaml")
    shutil.copy(HERE / "bundle" / "sdk-tests.yaml", bundle / "sdk-tests.yaml")
    served = Served([str(binary), "serve", "--listen", "127.0.0.1:0", "--data",
                     str(root / "data"), "--bundle", str(bundle)])
    try:
        operator = (root / "data" / "admin.key").read_text().strip()
        g = Gate(served.base, operator, "", "", served)
        g.post("/v1/agents", {
            **AGENT, "model": {"provider": "test", "id": "scripted"},
            "prompt_digest": "sha256:" + "ab" * 32, "owner": "sdk-tests@example.com",
            "environment": "test"})
        key = lambda spec: g.post("/v1/api-keys", spec)["key"]  # noqa: E731
        g.agent_key = key({"tenant": "acme", "principal": "svc-support", "kind": "service",
                           "roles": ["support", "premium"], "agent": AGENT["id"]})
        g.finance_key = key({"tenant": "acme", "principal": "fin-1", "kind": "user",
                             "roles": ["finance"]})
        yield g
    finally:
        served.stop()


class Counter:
    """Counts the calls of a tool, to prove it ran or did not."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @property
    def n(self) -> int:
        return len(self.calls)


@pytest.fixture
def counter() -> Counter:
    return Counter()


def free_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Silent:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        time.sleep(0.25)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    yield s
    s.close()
