"""OpenAI Agents SDK: guarded function tools.

`guard_function_tool(tool, guard)` returns a copy of a `FunctionTool` whose
`on_invoke_tool` asks Ward first, with the tool call id as the idempotency
key. The wrapped tool runs only on a permit, with the rewritten arguments on
`remediate`; its result is reported and the agent gets what the gate lets
through. A deny is returned to the model as the tool's output (a sentence
naming the reason), so the run goes on without the tool having run.
`require_approval` raises `ward.ApprovalRequired` (as
`ApprovalRequiredError`) out of `Runner.run`, or waits for the approver with
`Guard(on_approval="wait")` and then runs the call if the gate permits it.

A function tool hides its Python signature, so constraints cannot be
detected: pass `accepts_constraints=True` for a tool that reads
`ward.current_constraints()` and obeys them. Otherwise a call the gate
allows only with constraints does not run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Iterable

from agents import FunctionTool
from agents.exceptions import AgentsException
from agents.tool_context import ToolContext

from .errors import ApprovalRequired, WardError
from .guard import Guard, _constraints

__all__ = ["ApprovalRequiredError", "denied_message", "guard_function_tool",
           "guard_function_tools"]


class ApprovalRequiredError(ApprovalRequired, AgentsException):
    """`ward.ApprovalRequired`, as an Agents SDK exception: `Runner.run` wraps
    any other exception from a tool in a `UserError`, and lets these through."""


def denied_message(error: WardError) -> str:
    """What the model reads in place of the tool's output."""
    return f"Ward did not let this call through: {error}"


def guard_function_tool(tool: FunctionTool, guard: Guard, *,
                        accepts_constraints: bool = False) -> FunctionTool:
    """A copy of `tool` that asks Ward before each call."""
    inner = tool.on_invoke_tool

    async def on_invoke_tool(ctx: ToolContext[Any], input_json: str) -> Any:
        try:
            args = json.loads(input_json) if input_json.strip() else {}
        except ValueError:
            return f"Ward did not let this call through: the arguments are not JSON: {input_json!r}"
        if not isinstance(args, dict):
            return "Ward did not let this call through: the arguments are not a JSON object"
        call_id = getattr(ctx, "tool_call_id", None)
        try:
            permit = await guard.acheck(tool.name, args, call_id=call_id)
            if permit.has_constraints and not accepts_constraints:
                guard._refuse_unconstrainable(permit, False)
        except ApprovalRequired as e:
            raise ApprovalRequiredError(e.decision, e.tool, e.tool_args) from None
        except WardError as e:
            return denied_message(e)
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            result = await inner(ctx, json.dumps(permit.args))
        except Exception as e:
            await guard.areport_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        try:
            return await guard.areport(permit, result, started)
        except WardError as e:
            return denied_message(e)

    return dataclasses.replace(tool, on_invoke_tool=on_invoke_tool)


def guard_function_tools(tools: Iterable[FunctionTool], guard: Guard, **kwargs: Any
                         ) -> list[FunctionTool]:
    return [guard_function_tool(t, guard, **kwargs) for t in tools]
