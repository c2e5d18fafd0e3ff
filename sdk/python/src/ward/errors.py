"""Exceptions raised by the guard. Each carries the decision behind it."""

from __future__ import annotations

from typing import Any, Optional

from .models import Decision


class WardError(Exception):
    """Base class: the tool did not run, or its result was withheld."""

    def __init__(self, message: str, decision: Decision, tool: Optional[str] = None):
        super().__init__(message)
        self.decision = decision
        self.tool = tool

    @property
    def code(self) -> Optional[str]:
        """The first reason code, such as `untrusted_flow` or `timeout`."""
        return self.decision.code


class Denied(WardError):
    """The gate denied the call (or gave no usable answer); the tool did not run."""

    @classmethod
    def of(cls, tool: Optional[str], decision: Decision) -> "Denied":
        return cls(f"ward denied `{tool}`: {decision.explain()}", decision, tool)


class ResultWithheld(Denied):
    """The tool ran, but its result may not enter the agent's context.

    Raised when the gate quarantines the result, or when it cannot be asked
    about it (a result Ward has not seen is treated as one it refused).
    """

    @classmethod
    def of(cls, tool: Optional[str], decision: Decision) -> "ResultWithheld":
        return cls(f"ward withheld the result of `{tool}`: {decision.explain()}", decision, tool)


class ApprovalRequired(WardError):
    """The call waits for a human approval; the tool did not run.

    Retry the same call once `approval_id` is approved: the guard sends the
    id along, and the gate checks that the call is the one approved.
    """

    def __init__(self, decision: Decision, tool: Optional[str], args: dict[str, Any]):
        ticket = decision.approval
        self.approval_id: str = ticket.id if ticket else ""
        self.approvers: list[str] = list(ticket.approvers) if ticket else []
        self.expires_at: Optional[str] = ticket.expires_at if ticket else None
        self.tool_args = dict(args)
        super().__init__(
            f"`{tool}` needs approval {self.approval_id} by {', '.join(self.approvers)}: "
            f"{decision.explain()}",
            decision,
            tool,
        )

    def to_interrupt(self) -> dict[str, Any]:
        """A JSON-friendly description for a human-in-the-loop interrupt."""
        return {
            "type": "ward_approval",
            "approval_id": self.approval_id,
            "tool": self.tool,
            "args": self.tool_args,
            "approvers": self.approvers,
            "expires_at": self.expires_at,
            "reasons": [r.model_dump(exclude_none=True) for r in self.decision.reasons],
        }


class ConfigError(ValueError):
    """The SDK is configured in a way it cannot act on."""
