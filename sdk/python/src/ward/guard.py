"""The guard: no tool runs unless the gate permitted this exact call.

For each call the guard asks `pre_tool_call` and then:

- `allow`: runs the tool with the model's arguments;
- `allow_with_constraints`: runs it with the constraints passed in (a
  `constraints` parameter, or `current_constraints()` for adapters); a tool
  that cannot take them does not run;
- `remediate`: runs it with `rewritten_args` only;
- `require_approval`: raises `ApprovalRequired`, or waits for the approval
  and retries with its id, as configured;
- anything else, including a gate that does not answer: raises `Denied`.

After the tool returns, the result is reported as `post_tool_call` with
what ran (decision id, status, duration). The gate's answer decides what
the agent gets back: the result, the redacted text when it says
`remediate`, or nothing (`ResultWithheld`) when it quarantines the result
or cannot be asked.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Optional, Union

from .client import Client, GateError
from .errors import ApprovalRequired, ConfigError, Denied, ResultWithheld
from .models import Constraints, Decision, Execution, Request, Source
from .tracing import current_trace

__all__ = ["Guard", "Permit", "current_constraints", "GuardedTool"]

OnApproval = Literal["raise", "wait"]
ContextProvider = Union[Mapping[str, Any], Callable[[str, dict[str, Any]], Mapping[str, Any]], None]

_constraints: contextvars.ContextVar[Optional[Constraints]] = contextvars.ContextVar(
    "ward_constraints", default=None
)


def current_constraints() -> Optional[Constraints]:
    """The constraints of the guarded call running in this context, if any."""
    return _constraints.get()


def _empty(c: Optional[Constraints]) -> bool:
    return c is None or (not c.read_only and c.max_rows is None and c.timeout_ms is None)


def accepts_constraints(fn: Callable[..., Any]) -> bool:
    """Whether a callable declares a `constraints` parameter."""
    try:
        return "constraints" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def result_text(result: Any) -> str:
    """How a tool result is shown to the gate: text as is, anything else as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, bytes):
        return result.decode("utf-8", "replace")
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)


@dataclass(frozen=True)
class Permit:
    """What the gate allowed: the arguments to run with, and any constraints."""

    tool: str
    decision: Decision
    args: dict[str, Any]
    constraints: Optional[Constraints]
    source: Source
    trace_parent: Optional[str]

    @property
    def has_constraints(self) -> bool:
        return not _empty(self.constraints)


class Guard:
    """Governs tool calls for one client (one agent identity and session).

    - `on_approval`: `"raise"` (default) raises `ApprovalRequired`;
      `"wait"` polls the approval for up to `approval_timeout` seconds, then
      retries with its id.
    - `context`: facts the application supplies (never the model), as a
      mapping or a function `(tool, args) -> mapping`, sent as `context`.
    - `sources`: per tool, where its results come from and their trust,
      e.g. `{"read_inbox": Source(kind="email", trust="untrusted")}`. The
      default is `Source(kind="tool", tool=NAME)`, trusted only as far as
      the bundle's catalog vouches for the tool.
    """

    def __init__(
        self,
        client: Client,
        *,
        on_approval: OnApproval = "raise",
        approval_timeout: float = 600.0,
        poll_interval: float = 1.0,
        context: ContextProvider = None,
        sources: Optional[Mapping[str, Source]] = None,
    ):
        if on_approval not in ("raise", "wait"):
            raise ConfigError(f"on_approval must be `raise` or `wait`, not `{on_approval}`")
        self.client = client
        self.on_approval = on_approval
        self.approval_timeout = approval_timeout
        self.poll_interval = poll_interval
        self._context = context
        self._sources = dict(sources or {})

    # -- building requests ------------------------------------------------

    def idempotency_key(self, call_id: Optional[str]) -> Optional[str]:
        """The key for a tool call id: scoped by agent and session, so that
        ids a framework reuses in another conversation do not collide."""
        if not call_id:
            return None
        a = self.client.actor
        return f"{a.agent.id}/{a.session}/{call_id}"

    def _facts(self, tool: str, args: dict[str, Any],
               extra: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        base = self._context(tool, args) if callable(self._context) else (self._context or {})
        return {**dict(base), **dict(extra or {})}

    def source_for(self, tool: str) -> Source:
        s = self._sources.get(tool)
        if s is None:
            return Source(kind="tool", tool=tool)
        return s if s.tool else s.model_copy(update={"tool": tool})

    def request(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        call_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        approval_id: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> Request:
        """The `pre_tool_call` request for a call."""
        args = dict(args)
        # The retry with an approval id keeps the call's key: a decision that
        # waits for approval does not settle a key, so the retry is decided
        # afresh under it, and replays of the key return the permit.
        key = self.idempotency_key(call_id)
        return Request(
            intervention="pre_tool_call", actor=self.client.actor, tool=tool, args=args,
            context=self._facts(tool, args, context), idempotency_key=key,
            approval_id=approval_id, trace=current_trace(traceparent),
        )

    # -- reading decisions ------------------------------------------------

    def _permit(self, tool: str, args: dict[str, Any], d: Decision,
                traceparent: Optional[str]) -> Permit:
        if not d.permits:
            raise Denied.of(tool, d)
        run_args = args
        if d.outcome == "remediate":
            if d.rewritten_args is None:
                raise Denied.of(tool, Decision.fail_closed(
                    "internal_error", "`remediate` came without `rewritten_args`"))
            run_args = dict(d.rewritten_args)
        if d.outcome == "allow_with_constraints" and d.constraints is None:
            raise Denied.of(tool, Decision.fail_closed(
                "internal_error", "`allow_with_constraints` came without `constraints`"))
        return Permit(tool=tool, decision=d, args=run_args, constraints=d.constraints,
                      source=self.source_for(tool), trace_parent=traceparent)

    def _approved_status(self, record: Any) -> Optional[str]:
        status = record.get("status") if isinstance(record, dict) else None
        return status if status in ("approved", "rejected") else None

    # -- the pre-call check -------------------------------------------------

    def check(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        call_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        approval_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        on_approval: Optional[OnApproval] = None,
    ) -> Permit:
        """Asks before a call; returns a `Permit` or raises (the tool must not run)."""
        args = dict(args)
        req = self.request(tool, args, call_id=call_id, context=context,
                           approval_id=approval_id, traceparent=traceparent)
        d = self.client.decide(req)
        if d.outcome == "require_approval":
            error = ApprovalRequired(d, tool, args)
            if (on_approval or self.on_approval) == "raise" or not error.approval_id:
                raise error
            if not self._wait(error.approval_id):
                raise error
            return self.check(tool, args, call_id=call_id, context=context,
                              approval_id=error.approval_id, traceparent=traceparent,
                              on_approval="raise")
        return self._permit(tool, args, d, traceparent)

    async def acheck(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        call_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        approval_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        on_approval: Optional[OnApproval] = None,
    ) -> Permit:
        args = dict(args)
        req = self.request(tool, args, call_id=call_id, context=context,
                           approval_id=approval_id, traceparent=traceparent)
        d = await self.client.adecide(req)
        if d.outcome == "require_approval":
            error = ApprovalRequired(d, tool, args)
            if (on_approval or self.on_approval) == "raise" or not error.approval_id:
                raise error
            if not await self._await(error.approval_id):
                raise error
            return await self.acheck(tool, args, call_id=call_id, context=context,
                                     approval_id=error.approval_id, traceparent=traceparent,
                                     on_approval="raise")
        return self._permit(tool, args, d, traceparent)

    def _wait(self, approval_id: str) -> bool:
        """Polls until the approval is decided (True) or the wait runs out."""
        deadline = time.monotonic() + self.approval_timeout
        while True:
            try:
                if self._approved_status(self.client.approval(approval_id)):
                    return True
            except GateError:
                pass  # keep polling; the retry is what decides
            if time.monotonic() + self.poll_interval > deadline:
                return False
            time.sleep(self.poll_interval)

    async def _await(self, approval_id: str) -> bool:
        deadline = time.monotonic() + self.approval_timeout
        while True:
            try:
                if self._approved_status(await self.client.aapproval(approval_id)):
                    return True
            except GateError:
                pass
            if time.monotonic() + self.poll_interval > deadline:
                return False
            await asyncio.sleep(self.poll_interval)

    # -- the post-call report -----------------------------------------------

    def _result_request(self, permit: Permit, text: str) -> Request:
        return Request(intervention="post_tool_call", actor=self.client.actor, tool=permit.tool,
                       content=text, source=permit.source,
                       trace=current_trace(permit.trace_parent))

    @staticmethod
    def _execution(permit: Permit, ok: bool, started: float) -> Execution:
        ms = max(0, int((time.monotonic() - started) * 1000))
        return Execution(decision_id=permit.decision.decision_id,
                         status="ok" if ok else "error", duration_ms=ms)

    @staticmethod
    def _admit(permit: Permit, result: Any, d: Decision) -> Any:
        if not d.permits:
            raise ResultWithheld.of(permit.tool, d)
        if d.outcome == "remediate":
            redacted = (d.rewritten_args or {}).get("content")
            if not isinstance(redacted, str):
                raise ResultWithheld.of(permit.tool, Decision.fail_closed(
                    "internal_error", "`remediate` of a result came without `content`"))
            return redacted
        return result

    def report(self, permit: Permit, result: Any, started: float) -> Any:
        """Reports what ran and returns what the agent may see."""
        d = self.client.observe(self._result_request(permit, result_text(result)),
                                self._execution(permit, True, started))
        return self._admit(permit, result, d)

    def report_error(self, permit: Permit, error: BaseException, started: float) -> None:
        self.client.observe(self._result_request(permit, f"{type(error).__name__}: {error}"),
                            self._execution(permit, False, started))

    async def areport(self, permit: Permit, result: Any, started: float) -> Any:
        d = await self.client.aobserve(self._result_request(permit, result_text(result)),
                                       self._execution(permit, True, started))
        return self._admit(permit, result, d)

    async def areport_error(self, permit: Permit, error: BaseException, started: float) -> None:
        await self.client.aobserve(
            self._result_request(permit, f"{type(error).__name__}: {error}"),
            self._execution(permit, False, started))

    # -- whole calls --------------------------------------------------------

    @staticmethod
    def _refuse_unconstrainable(permit: Permit, accepts: bool) -> None:
        if permit.has_constraints and not accepts:
            raise Denied.of(permit.tool, Decision.fail_closed(
                "internal_error",
                f"the gate allows `{permit.tool}` only with constraints "
                f"{permit.constraints.model_dump(exclude_none=True)}, and the tool "  # type: ignore[union-attr]
                "takes no `constraints`"))

    def call(
        self,
        tool: str,
        fn: Callable[..., Any],
        args: Mapping[str, Any],
        *,
        call_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        approval_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        accepts: Optional[bool] = None,
    ) -> Any:
        """Runs `fn(**args)` if and as the gate permits; returns what the agent may see."""
        permit = self.check(tool, args, call_id=call_id, context=context,
                            approval_id=approval_id, traceparent=traceparent)
        takes = accepts_constraints(fn) if accepts is None else accepts
        self._refuse_unconstrainable(permit, takes)
        kwargs = dict(permit.args)
        if takes and accepts_constraints(fn):
            kwargs["constraints"] = permit.constraints
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            result = fn(**kwargs)
        except Exception as e:
            self.report_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        return self.report(permit, result, started)

    async def acall(
        self,
        tool: str,
        fn: Callable[..., Any],
        args: Mapping[str, Any],
        *,
        call_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        approval_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        accepts: Optional[bool] = None,
    ) -> Any:
        """`call` for async code; `fn` may be sync (run in a thread) or async."""
        permit = await self.acheck(tool, args, call_id=call_id, context=context,
                                   approval_id=approval_id, traceparent=traceparent)
        takes = accepts_constraints(fn) if accepts is None else accepts
        self._refuse_unconstrainable(permit, takes)
        kwargs = dict(permit.args)
        if takes and accepts_constraints(fn):
            kwargs["constraints"] = permit.constraints
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(**kwargs)
            else:
                result = await asyncio.to_thread(fn, **kwargs)
        except Exception as e:
            await self.areport_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        return await self.areport(permit, result, started)

    def wrap(self, fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
             accepts: Optional[bool] = None) -> Any:
        """Decorates a function as a guarded tool (the tool name defaults to
        the function's). Call it with the tool's arguments as keywords, plus
        optionally `ward_call_id=` and `ward_approval_id=`."""
        def decorate(f: Callable[..., Any]) -> "GuardedTool":
            return GuardedTool(self, f, name or f.__name__, accepts)
        return decorate(fn) if fn is not None else decorate

    # -- content entering or leaving the context ----------------------------

    def _content(self, intervention: str, content: str, source: Optional[Source],
                 traceparent: Optional[str]) -> Request:
        return Request(intervention=intervention, actor=self.client.actor,  # type: ignore[arg-type]
                       content=content, source=source, trace=current_trace(traceparent))

    @staticmethod
    def _passes(d: Decision, content: str) -> str:
        if not d.permits:
            raise Denied.of(None, d)
        if d.outcome == "remediate":
            redacted = (d.rewritten_args or {}).get("content")
            if not isinstance(redacted, str):
                raise Denied.of(None, Decision.fail_closed(
                    "internal_error", "`remediate` of content came without `content`"))
            return redacted
        return content

    def input(self, content: str, source: Optional[Source] = None,
              traceparent: Optional[str] = None) -> str:
        """Reports content entering the context: the user's prompt (the
        default source, `user`) or a retrieved document (give its source and
        `trust="untrusted"`). Returns the text the agent may see."""
        src = source or Source(kind="user")
        d = self.client.observe(self._content("input", content, src, traceparent))
        return self._passes(d, content)

    async def ainput(self, content: str, source: Optional[Source] = None,
                     traceparent: Optional[str] = None) -> str:
        src = source or Source(kind="user")
        d = await self.client.aobserve(self._content("input", content, src, traceparent))
        return self._passes(d, content)

    def output(self, content: str, traceparent: Optional[str] = None) -> str:
        """Reports the agent's answer; returns the text the user may see."""
        d = self.client.observe(self._content("output", content, None, traceparent))
        return self._passes(d, content)

    async def aoutput(self, content: str, traceparent: Optional[str] = None) -> str:
        d = await self.client.aobserve(self._content("output", content, None, traceparent))
        return self._passes(d, content)


class GuardedTool:
    """A function that asks the gate before each call (see `Guard.wrap`)."""

    def __init__(self, guard: Guard, fn: Callable[..., Any], name: str,
                 accepts: Optional[bool]):
        self.guard, self.fn, self.name, self.accepts = guard, fn, name, accepts
        self._signature = inspect.signature(fn)
        self.is_async = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)

    def _args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self._signature.bind_partial(*args, **kwargs)
        out = dict(bound.arguments)
        out.pop("constraints", None)  # the gate's to give, never the caller's
        return out

    def __call__(self, *args: Any, ward_call_id: Optional[str] = None,
                 ward_approval_id: Optional[str] = None, **kwargs: Any) -> Any:
        call_args = self._args(args, kwargs)
        if self.is_async:
            return self.guard.acall(self.name, self.fn, call_args, call_id=ward_call_id,
                                    approval_id=ward_approval_id, accepts=self.accepts)
        return self.guard.call(self.name, self.fn, call_args, call_id=ward_call_id,
                               approval_id=ward_approval_id, accepts=self.accepts)

