"""W3C trace context for requests.

A request carries `trace: {trace_id, span_id}` when there is a trace to
join. In order: an explicit `traceparent` given to the call, one set with
`use_traceparent(...)` for the current context, or OpenTelemetry's current
span when `opentelemetry-api` is installed. No trace is invented.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Iterator, Optional

from .models import Trace

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
    "ward_traceparent", default=None
)


def parse_traceparent(value: str) -> Optional[Trace]:
    """The trace of a `traceparent` header value, or None if it is not valid."""
    m = _TRACEPARENT.match(value.strip())
    if not m or m.group(1) == "ff":
        return None
    trace_id, span_id = m.group(2), m.group(3)
    if set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None
    return Trace(trace_id=trace_id, span_id=span_id)


def format_traceparent(trace: Trace, sampled: bool = True) -> str:
    return f"00-{trace.trace_id}-{trace.span_id}-{'01' if sampled else '00'}"


@contextlib.contextmanager
def use_traceparent(traceparent: str) -> Iterator[None]:
    """Requests made inside this block join the given trace."""
    token = _current.set(traceparent)
    try:
        yield
    finally:
        _current.reset(token)


def _otel_trace() -> Optional[Trace]:
    try:
        from opentelemetry import trace as otel
    except ImportError:
        return None
    ctx = otel.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return Trace(trace_id=f"{ctx.trace_id:032x}", span_id=f"{ctx.span_id:016x}")


def current_trace(traceparent: Optional[str] = None) -> Optional[Trace]:
    """The trace a request made here should carry, if any."""
    for value in (traceparent, _current.get()):
        if value:
            parsed = parse_traceparent(value)
            if parsed:
                return parsed
    return _otel_trace()
