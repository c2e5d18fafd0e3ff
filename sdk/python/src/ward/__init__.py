"""Ward's Python SDK: ask the gate before every tool call, fail closed.

    import ward
    client = ward.Client(url, api_key, ward.Actor.service("svc-support", tenant="acme",
                         agent="support-bot", version="1.0.0", session="s-1"))
    guard = ward.Guard(client)
    guard.call("lookup_order", lookup_order, {"order_id": "8812"}, call_id="call_1")

Adapters: `ward.langchain` (LangChain tools, LangGraph interrupts),
`ward.openai_agents` (function tools) and `ward.crewai` (CrewAI tools).
"""

from .client import Client, GateError
from .errors import ApprovalRequired, ConfigError, Denied, ResultWithheld, WardError
from .guard import Guard, GuardedTool, Permit, current_constraints
from .models import (
    PERMITS,
    REASON_CODES,
    Actor,
    AgentRef,
    ApprovalTicket,
    Constraints,
    Decision,
    Execution,
    PolicyRef,
    Principal,
    Reason,
    Request,
    Source,
    Trace,
)
from .tracing import current_trace, parse_traceparent, use_traceparent

__version__ = "0.1.0"

__all__ = [
    "Actor", "AgentRef", "ApprovalRequired", "ApprovalTicket", "Client", "ConfigError",
    "Constraints", "Decision", "Denied", "Execution", "GateError", "Guard", "GuardedTool",
    "PERMITS", "Permit", "PolicyRef", "Principal", "REASON_CODES", "Reason", "Request",
    "ResultWithheld", "Source", "Trace", "WardError", "current_constraints", "current_trace",
    "parse_traceparent", "use_traceparent",
]
