"""The HTTP client for `ward serve`, sync and async.

`decide` and `observe` never raise for a gate that fails: a timeout is a
deny with reason `timeout`; a refused connection, a status other than 200
or a reply that is not a well-formed Decision is a deny with
`internal_error`. Such a deny is marked `Decision.local`. Connections are
kept alive (one `httpx` pool per client, and one per event loop for the
async calls), so a decision costs one round trip on a warm connection.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from typing import Any, Optional

import httpx
from pydantic import ValidationError

from .models import Actor, AgentRef, Decision, Execution, Principal, Request
from .tracing import format_traceparent

__all__ = ["Client", "GateError"]

_USER_AGENT = "ward-sdk-python/0.1.0"
REPLAYED_HEADER = "ward-replayed"


class GateError(Exception):
    """An operator or approval call failed (these are not decisions)."""

    def __init__(self, message: str, status: Optional[int] = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


def _parse_decision(response: httpx.Response) -> Decision:
    if response.status_code != 200:
        try:
            body = response.json()
            detail = f"{body.get('error', '')}: {body.get('message', '')}".strip(": ")
        except Exception:
            detail = response.text[:200]
        return Decision.fail_closed(
            "internal_error", f"the gate answered HTTP {response.status_code}: {detail}"
        )
    try:
        decision = Decision.model_validate_json(response.content)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return Decision.fail_closed(
            "internal_error",
            f"the gate's reply is not a Decision ({where}: {first.get('msg', 'invalid')})",
        )
    decision._replayed = response.headers.get(REPLAYED_HEADER, "").lower() == "true"
    return decision


def _transport_failure(path: str, e: Exception) -> Decision:
    if isinstance(e, httpx.TimeoutException):
        return Decision.fail_closed("timeout", f"no answer from the gate on {path}: {e!r}")
    return Decision.fail_closed("internal_error", f"cannot reach the gate on {path}: {e!r}")


class Client:
    """A connection to one gate, acting as one actor.

    `api_key` is the agent's credential; `actor` must be what that key
    authenticates (the gate refuses anything else). Use `with_session` to
    get a client for another conversation that shares the connections.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        actor: Actor,
        *,
        timeout: float = 2.0,
        transport: Optional[httpx.BaseTransport] = None,
        async_transport: Optional[httpx.AsyncBaseTransport] = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.actor = actor
        self.timeout = timeout
        self._api_key = api_key
        self._transport = transport
        self._async_transport = async_transport
        self._http: Optional[httpx.Client] = None
        self._async: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = (
            weakref.WeakKeyDictionary()
        )
        self._shared: Optional[Client] = None

    @classmethod
    def from_env(cls, **kwargs: Any) -> "Client":
        """A client configured by `WARD_URL`, `WARD_API_KEY`, `WARD_TENANT`,
        `WARD_PRINCIPAL`, `WARD_PRINCIPAL_KIND` (`service`), `WARD_AGENT`,
        `WARD_AGENT_VERSION` and `WARD_SESSION` (a fresh id if unset)."""
        env = os.environ
        missing = [
            k for k in ("WARD_API_KEY", "WARD_TENANT", "WARD_PRINCIPAL", "WARD_AGENT",
                        "WARD_AGENT_VERSION") if not env.get(k)
        ]
        if missing:
            raise ValueError(f"ward: set {', '.join(missing)} to configure the client")
        actor = Actor(
            principal=Principal(id=env["WARD_PRINCIPAL"],
                                kind=env.get("WARD_PRINCIPAL_KIND", "service")),  # type: ignore[arg-type]
            tenant=env["WARD_TENANT"],
            session=env.get("WARD_SESSION") or f"s-{uuid.uuid4().hex[:12]}",
            agent=AgentRef(id=env["WARD_AGENT"], version=env["WARD_AGENT_VERSION"]),
        )
        return cls(env.get("WARD_URL", "http://127.0.0.1:8480"), env["WARD_API_KEY"], actor,
                   **kwargs)

    def with_session(self, session: str) -> "Client":
        """The same gate, key and connections, for another session."""
        other = Client.__new__(Client)
        other.__dict__.update(self.__dict__)
        other.actor = self.actor.with_session(session)
        other._shared = self._root()
        return other

    def _root(self) -> "Client":
        return self._shared._root() if self._shared else self

    # -- transports -------------------------------------------------------

    def _headers(self, traceparent: Optional[str]) -> dict[str, str]:
        h = {"authorization": f"Bearer {self._api_key}", "user-agent": _USER_AGENT}
        if traceparent:
            h["traceparent"] = traceparent
        return h

    def _sync(self) -> httpx.Client:
        root = self._root()
        if root._http is None:
            root._http = httpx.Client(base_url=root.base_url, timeout=root.timeout,
                                      transport=root._transport)
        return root._http

    def _aclient(self) -> httpx.AsyncClient:
        root = self._root()
        loop = asyncio.get_running_loop()
        client = root._async.get(loop)
        if client is None:
            client = httpx.AsyncClient(base_url=root.base_url, timeout=root.timeout,
                                       transport=root._async_transport)
            root._async[loop] = client
        return client

    def close(self) -> None:
        root = self._root()
        if root._http is not None:
            root._http.close()
            root._http = None

    async def aclose(self) -> None:
        root = self._root()
        client = root._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decisions --------------------------------------------------------

    @staticmethod
    def _body(request: Request, execution: Optional[Execution]) -> tuple[str, dict[str, Any]]:
        if request.intervention in ("pre_tool_call", "list_tools"):
            return "/v1/decide", request.to_wire()
        body: dict[str, Any] = {"request": request.to_wire()}
        if execution is not None:
            body["execution"] = execution.model_dump(mode="json")
        return "/v1/observe", body

    def decide(self, request: Request) -> Decision:
        """Asks before acting. Never raises: a failure is a deny."""
        return self._send(request, None)

    def observe(self, request: Request, execution: Optional[Execution] = None) -> Decision:
        """Reports content (input, a tool result, output). Never raises."""
        return self._send(request, execution)

    async def adecide(self, request: Request) -> Decision:
        return await self._asend(request, None)

    async def aobserve(self, request: Request, execution: Optional[Execution] = None) -> Decision:
        return await self._asend(request, execution)

    def _send(self, request: Request, execution: Optional[Execution]) -> Decision:
        path, body = self._body(request, execution)
        tp = format_traceparent(request.trace) if request.trace else None
        try:
            response = self._sync().post(path, json=body, headers=self._headers(tp))
        except Exception as e:  # every failure to get an answer is a deny
            return _transport_failure(path, e)
        return _parse_decision(response)

    async def _asend(self, request: Request, execution: Optional[Execution]) -> Decision:
        path, body = self._body(request, execution)
        tp = format_traceparent(request.trace) if request.trace else None
        try:
            response = await self._aclient().post(path, json=body, headers=self._headers(tp))
        except Exception as e:
            return _transport_failure(path, e)
        return _parse_decision(response)

    # -- approvals --------------------------------------------------------

    def approval(self, approval_id: str) -> dict[str, Any]:
        """The approval record (`status` is `pending`, `approved` or `rejected`)."""
        return self._call("GET", f"/v1/approvals/{approval_id}")

    async def aapproval(self, approval_id: str) -> dict[str, Any]:
        return await self._acall("GET", f"/v1/approvals/{approval_id}")

    def approve(self, approval_id: str, comment: Optional[str] = None) -> dict[str, Any]:
        """Votes to approve, as this client's identity (never the requester's)."""
        body = {"comment": comment} if comment else {}
        return self._call("POST", f"/v1/approvals/{approval_id}/approve", body)

    def reject(self, approval_id: str, comment: Optional[str] = None) -> dict[str, Any]:
        body = {"comment": comment} if comment else {}
        return self._call("POST", f"/v1/approvals/{approval_id}/reject", body)

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        try:
            r = self._sync().request(method, path, json=body, headers=self._headers(None))
        except Exception as e:
            raise GateError(f"{method} {path}: {e!r}") from e
        return self._result(method, path, r)

    async def _acall(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> Any:
        try:
            r = await self._aclient().request(method, path, json=body,
                                              headers=self._headers(None))
        except Exception as e:
            raise GateError(f"{method} {path}: {e!r}") from e
        return self._result(method, path, r)

    @staticmethod
    def _result(method: str, path: str, r: httpx.Response) -> Any:
        try:
            body = r.json()
        except ValueError:
            body = r.text
        if not 200 <= r.status_code < 300:
            raise GateError(f"{method} {path}: HTTP {r.status_code}: {body}", r.status_code, body)
        return body
