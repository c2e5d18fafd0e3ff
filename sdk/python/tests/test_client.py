"""The client: fail closed on every failure, idempotency keys, trace context."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import httpx
import pytest

import ward
from conftest import Counter, Gate, Silent, free_port


def tool(counter: Counter) -> Callable[..., str]:
    def lookup_order(order_id: str) -> str:
        counter.calls.append({"order_id": order_id})
        return "shipped"

    return lookup_order


def test_a_gate_that_is_down_is_a_deny_and_the_tool_never_runs(gate: Gate,
                                                               counter: Counter) -> None:
    client = ward.Client(f"http://127.0.0.1:{free_port()}", gate.agent_key, gate.actor())
    guard = ward.Guard(client)
    with pytest.raises(ward.Denied) as e:
        guard.call("lookup_order", tool(counter), {"order_id": "8812"}, call_id="c1")
    assert e.value.code == "internal_error" and e.value.decision.local
    assert "cannot reach the gate" in str(e.value)
    with pytest.raises(ward.Denied):
        asyncio.run(guard.acall("lookup_order", tool(counter), {"order_id": "8812"}))
    with pytest.raises(ward.Denied):
        guard.input("hello")
    assert counter.n == 0


def test_a_gate_that_does_not_answer_in_time_is_a_timeout_deny(gate: Gate, counter: Counter,
                                                              silent: Silent) -> None:
    client = ward.Client(f"http://127.0.0.1:{silent.port}", gate.agent_key, gate.actor(),
                         timeout=0.3)
    guard = ward.Guard(client)
    started = time.monotonic()
    with pytest.raises(ward.Denied) as e:
        guard.call("lookup_order", tool(counter), {"order_id": "8812"})
    assert e.value.code == "timeout" and e.value.decision.local
    with pytest.raises(ward.Denied) as e:
        asyncio.run(guard.acall("lookup_order", tool(counter), {"order_id": "8812"}))
    assert e.value.code == "timeout"
    assert time.monotonic() - started < 5
    assert counter.n == 0


class Scripted(BaseHTTPRequestHandler):
    """Answers every POST with the class's `status` and `body`."""

    status = 200
    body = b""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Callable[[int, Any], str]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(status: int, body: Any) -> str:
        handler = type("H", (Scripted,), {
            "status": status,
            "body": body if isinstance(body, bytes) else json.dumps(body).encode()})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for s in servers:
        s.shutdown()
        s.server_close()


ALLOW = {"decision_id": "dec_1", "outcome": "allow", "reasons": [], "mode": "enforce"}


@pytest.mark.parametrize("status, body, why", [
    (200, b"not json", "is not a Decision"),
    (200, {"outcome": "allow"}, "is not a Decision"),
    (200, {**ALLOW, "outcome": "allow_everything"}, "outcome"),
    (200, {**ALLOW, "mode": "yolo"}, "mode"),
    (200, {**ALLOW, "grant": "root"}, "grant"),
    (200, {**ALLOW, "outcome": "allow_with_constraints",
           "constraints": {"read_only": True, "sandbox": "none"}}, "sandbox"),
    (200, {**ALLOW, "outcome": "remediate"}, "without `rewritten_args`"),
    (200, {**ALLOW, "outcome": "allow_with_constraints"}, "without `constraints`"),
    (500, {"error": "internal", "message": "boom"}, "HTTP 500"),
    (503, {"error": "unavailable", "message": "store down"}, "HTTP 503"),
    (302, b"", "HTTP 302"),
])
def test_a_malformed_or_non_200_answer_is_a_deny(gate: Gate, counter: Counter, scripted: Any,
                                                 status: int, body: Any, why: str) -> None:
    guard = ward.Guard(ward.Client(scripted(status, body), gate.agent_key, gate.actor()))
    with pytest.raises(ward.Denied) as e:
        guard.call("lookup_order", tool(counter), {"order_id": "8812"})
    assert e.value.code == "internal_error"
    assert why in str(e.value)
    assert counter.n == 0


def test_requests_the_gate_cannot_judge_are_denies(gate: Gate, counter: Counter) -> None:
    wrong_key = ward.Guard(ward.Client(gate.base, "wk_0_0", gate.actor()))
    with pytest.raises(ward.Denied) as e:
        wrong_key.call("lookup_order", tool(counter), {"order_id": "8812"})
    assert "HTTP 401" in str(e.value)
    impostor = ward.Guard(ward.Client(gate.base, gate.agent_key, gate.actor(principal="fin-1")))
    with pytest.raises(ward.Denied) as e:
        impostor.call("lookup_order", tool(counter), {"order_id": "8812"})
    assert "HTTP 403" in str(e.value)
    assert counter.n == 0


def test_a_result_the_gate_cannot_see_is_withheld(gate: Gate, counter: Counter) -> None:
    """The decision comes back, then the gate is gone before the report."""
    real = httpx.HTTPTransport()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/observe":
            raise httpx.ConnectError("gate went away", request=request)
        return real.handle_request(request)

    client = ward.Client(gate.base, gate.agent_key, gate.actor(),
                         transport=httpx.MockTransport(handle))
    with pytest.raises(ward.ResultWithheld) as e:
        ward.Guard(client).call("lookup_order", tool(counter), {"order_id": "8812"})
    assert e.value.code == "internal_error"
    assert counter.n == 1  # it ran; the agent does not get what the gate did not see


def recording(sent: list[dict[str, Any]]) -> httpx.MockTransport:
    real = httpx.HTTPTransport()

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append({"path": request.url.path, "body": json.loads(request.content),
                     "traceparent": request.headers.get("traceparent")})
        return real.handle_request(request)

    return httpx.MockTransport(handle)


def test_idempotency_keys_come_from_the_tool_call_id(gate: Gate, counter: Counter) -> None:
    sent: list[dict[str, Any]] = []
    client = gate.client(transport=recording(sent))
    guard = ward.Guard(client)
    guard.call("lookup_order", tool(counter), {"order_id": "8812"}, call_id="call_abc")
    key = sent[0]["body"]["idempotency_key"]
    assert key == f"support-bot/{client.actor.session}/call_abc"
    replay = client.decide(guard.request("lookup_order", {"order_id": "8812"},
                                         call_id="call_abc"))
    assert replay.replayed and replay.outcome == "allow"
    # The same id with other arguments is not the same call.
    with pytest.raises(ward.Denied) as e:
        guard.call("lookup_order", tool(counter), {"order_id": "9999"}, call_id="call_abc")
    assert e.value.code == "idempotent_replay"
    assert counter.n == 1


def test_trace_context_is_propagated(gate: Gate, counter: Counter) -> None:
    from opentelemetry import trace as otel

    sent: list[dict[str, Any]] = []
    guard = ward.Guard(gate.client(transport=recording(sent)))
    guard.call("lookup_order", tool(counter), {"order_id": "1"})
    assert "trace" not in sent[-1]["body"] and sent[-1]["traceparent"] is None

    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    guard.call("lookup_order", tool(counter), {"order_id": "2"}, traceparent=tp)
    pre, post = sent[-2], sent[-1]
    want = {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}
    assert pre["body"]["trace"] == want and pre["traceparent"] == tp
    assert post["path"] == "/v1/observe" and post["body"]["request"]["trace"] == want

    with ward.use_traceparent("00-11111111111111111111111111111111-2222222222222222-01"):
        guard.call("lookup_order", tool(counter), {"order_id": "3"})
    assert sent[-2]["body"]["trace"]["trace_id"] == "1" * 32

    span = otel.NonRecordingSpan(otel.SpanContext(
        trace_id=0x4bf92f3577b34da6a3ce929d0e0e4736, span_id=0x00f067aa0ba902b7,
        is_remote=False, trace_flags=otel.TraceFlags(1)))
    with otel.use_span(span):
        guard.call("lookup_order", tool(counter), {"order_id": "4"})
    assert sent[-2]["body"]["trace"] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                         "span_id": "00f067aa0ba902b7"}
    assert ward.parse_traceparent("00-" + "0" * 32 + "-b7ad6b7169203331-01") is None
    assert counter.n == 4


def test_from_env_and_with_session(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in gate.env("s-env").items():
        monkeypatch.setenv(k, v)
    client = ward.Client.from_env()
    assert client.actor.session == "s-env" and client.actor.principal.kind == "service"
    other = client.with_session("s-other")
    assert other.actor.session == "s-other" and client.actor.session == "s-env"
    d = other.decide(ward.Guard(other).request("lookup_order", {"order_id": "1"}))
    assert d.outcome == "allow"
    assert other._sync() is client._sync()  # one connection pool
    monkeypatch.delenv("WARD_API_KEY")
    with pytest.raises(ValueError, match="WARD_API_KEY"):
        ward.Client.from_env()
