"""The wire contract: `Request` and `Decision`, as in `docs/schema/`.

The models mirror `docs/schema/request.schema.json` and
`docs/schema/decision.schema.json` field for field; a test checks both
directions against the schemas. Decisions are parsed strictly: an unknown
field, outcome, mode or constraint is a malformed reply, which the client
turns into a deny. The SDK never guesses what an answer it does not
understand permits.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

Intervention = Literal["input", "list_tools", "pre_tool_call", "post_tool_call", "output"]
Outcome = Literal["allow", "allow_with_constraints", "remediate", "require_approval", "deny"]
Mode = Literal["enforce", "shadow", "override"]
Trust = Literal["trusted", "untrusted"]
PrincipalKind = Literal["user", "service"]

#: The outcomes under which a tool may run.
PERMITS: frozenset[str] = frozenset({"allow", "allow_with_constraints", "remediate"})

#: The closed set of reason codes in `docs/schema/decision.schema.json`.
#: `Reason.code` is kept a plain string: a reason explains, it never permits,
#: so a code this SDK does not know yet must not turn an answer into a deny.
REASON_CODES: frozenset[str] = frozenset(
    {
        "rule", "default_deny", "unknown_tool", "unknown_agent", "schema_violation",
        "untrusted_flow", "scan_finding", "kill_switch", "circuit_open", "rate_limited",
        "budget_exceeded", "approval_pending", "approval_expired", "approval_mismatch",
        "approval_policy_changed", "approval_rejected", "approval_used", "idempotent_replay",
        "policy_unavailable", "timeout", "internal_error", "break_glass", "shadow",
    }
)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principal(_Wire):
    """The human or service principal. Fixed by the credential, never by the model."""

    id: str
    kind: PrincipalKind
    #: Leave empty to act with every role the credential grants; a list may
    #: only narrow them.
    roles: list[str] = Field(default_factory=list)
    attrs: dict[str, Any] = Field(default_factory=dict)


class AgentRef(_Wire):
    id: str
    version: str


class Actor(_Wire):
    """Who is acting. The gate checks it against the credential."""

    principal: Principal
    tenant: str
    session: str
    agent: AgentRef

    @classmethod
    def service(cls, principal: str, *, tenant: str, agent: str, version: str, session: str,
                roles: Optional[list[str]] = None) -> "Actor":
        return cls(principal=Principal(id=principal, kind="service", roles=roles or []),
                   tenant=tenant, session=session, agent=AgentRef(id=agent, version=version))

    @classmethod
    def user(cls, principal: str, *, tenant: str, agent: str, version: str, session: str,
             roles: Optional[list[str]] = None) -> "Actor":
        return cls(principal=Principal(id=principal, kind="user", roles=roles or []),
                   tenant=tenant, session=session, agent=AgentRef(id=agent, version=version))

    def with_session(self, session: str) -> "Actor":
        return self.model_copy(update={"session": session})


class Source(_Wire):
    """Where a piece of content came from. The gate may only narrow `trust`."""

    kind: str
    tool: Optional[str] = None
    trust: Optional[Trust] = None
    uri: Optional[str] = None


class Trace(_Wire):
    """W3C trace context: 32 and 16 lowercase hex digits."""

    trace_id: str
    span_id: str


class Request(_Wire):
    intervention: Intervention
    actor: Actor
    tool: Optional[str] = None
    action: Optional[str] = None
    target: Optional[str] = None
    args: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    content: Optional[str] = None
    source: Optional[Source] = None
    idempotency_key: Optional[str] = None
    approval_id: Optional[str] = None
    trace: Optional[Trace] = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, without the fields that are unset."""
        return self.model_dump(mode="json", exclude_none=True)


class Reason(_Wire):
    code: str
    message: str
    rule: Optional[str] = None


class PolicyRef(_Wire):
    name: str
    version: str
    digest: str


class Constraints(_Wire):
    """Limits an `allow_with_constraints` call must run under. The tool enforces them."""

    read_only: bool = False
    max_rows: Optional[int] = Field(default=None, ge=0)
    timeout_ms: Optional[int] = Field(default=None, ge=0)


class ApprovalTicket(_Wire):
    id: str
    expires_at: str
    approvers: list[str]
    quorum: int = Field(ge=0)


class Decision(_Wire):
    """The gate's answer. Use `permits` rather than comparing outcomes by hand."""

    decision_id: str
    outcome: Outcome
    reasons: list[Reason]
    mode: Mode
    policy: Optional[PolicyRef] = None
    constraints: Optional[Constraints] = None
    rewritten_args: Optional[dict[str, Any]] = None
    approval: Optional[ApprovalTicket] = None
    receipt: Optional[str] = None

    _replayed: bool = PrivateAttr(default=False)
    _local: bool = PrivateAttr(default=False)

    @property
    def permits(self) -> bool:
        """Whether the tool may run (possibly with constraints or rewritten arguments)."""
        return self.outcome in PERMITS

    @property
    def replayed(self) -> bool:
        """The gate answered a repeated idempotency key with its stored decision."""
        return self._replayed

    @property
    def local(self) -> bool:
        """The SDK made this deny itself: the gate did not answer, or not readably."""
        return self._local

    @property
    def code(self) -> Optional[str]:
        """The first reason code, the usual "why"."""
        return self.reasons[0].code if self.reasons else None

    def explain(self) -> str:
        """The reasons in words, such as
        `only admins may delete customers (rule delete-needs-admin)`."""
        def why(r: Reason) -> str:
            if r.rule:
                return f"rule {r.rule}" if r.code == "rule" else f"{r.code}, rule {r.rule}"
            return r.code
        return "; ".join(f"{r.message} ({why(r)})" for r in self.reasons) or self.outcome

    @classmethod
    def fail_closed(cls, code: Literal["timeout", "internal_error"], message: str) -> "Decision":
        """A deny made by the SDK when the gate gave no usable answer."""
        d = cls(decision_id="", outcome="deny", reasons=[Reason(code=code, message=message)],
                mode="enforce")
        d._local = True
        return d


class Execution(_Wire):
    """What ran under a `pre_tool_call` decision, reported with its result."""

    decision_id: str
    status: Literal["ok", "error"]
    duration_ms: int = Field(ge=0)
