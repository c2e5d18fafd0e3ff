"""CrewAI: guarded tools.

`guard_crewai_tool(tool, guard)` returns a CrewAI `BaseTool` with the same
name, description and argument schema, which runs the wrapped tool only as
Ward permits (the rewritten arguments on `remediate`). A deny is returned to
the agent as the tool's output, a sentence naming the reason, and the
wrapped tool does not run. CrewAI gives tools no call id, so each call is
its own decision (no idempotency key).

For approvals, use `Guard(on_approval="wait")`: the tool waits for the
approver, then runs if the gate permits the retry. With `"raise"`, the
agent is told the call waits for approval `apr_...` and the tool does not
run; `ApprovalRequired` is not raised through CrewAI, which would turn it
into a retry loop.

Constraints go through `ward.current_constraints()`: pass
`accepts_constraints=True` for a tool that reads and obeys them.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Optional

from crewai.tools import BaseTool
from pydantic import ConfigDict

from .errors import ApprovalRequired, WardError
from .guard import Guard, _constraints

__all__ = ["WardCrewTool", "guard_crewai_tool", "guard_crewai_tools"]


def _tell(error: WardError) -> str:
    if isinstance(error, ApprovalRequired):
        return (f"Ward holds this call for approval {error.approval_id} by "
                f"{', '.join(error.approvers)}; it did not run.")
    return f"Ward did not let this call through: {error}"


class WardCrewTool(BaseTool):
    """A CrewAI tool that runs its `inner` tool only as Ward permits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    guard: Guard
    accepts_constraints: bool = False
    #: The last Ward error this tool reported to the agent, for callers.
    last_error: Optional[WardError] = None

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            return "Ward did not let this call through: give the arguments by name"
        try:
            permit = self.guard.check(self.name, kwargs)
            if permit.has_constraints and not self.accepts_constraints:
                self.guard._refuse_unconstrainable(permit, False)
        except WardError as e:
            self.last_error = e
            return _tell(e)
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            result = self.inner.run(**permit.args)
        except Exception as e:
            self.guard.report_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        try:
            return self.guard.report(permit, result, started)
        except WardError as e:
            self.last_error = e
            return _tell(e)


def guard_crewai_tool(tool: BaseTool, guard: Guard, *,
                      accepts_constraints: bool = False) -> WardCrewTool:
    return WardCrewTool(name=tool.name, description=tool.description,
                        args_schema=tool.args_schema, result_as_answer=tool.result_as_answer,
                        inner=tool, guard=guard, accepts_constraints=accepts_constraints)


def guard_crewai_tools(tools: Iterable[BaseTool], guard: Guard, **kwargs: Any
                       ) -> list[WardCrewTool]:
    return [guard_crewai_tool(t, guard, **kwargs) for t in tools]
