"""LangChain and LangGraph: guarded `BaseTool`s, and approvals as interrupts.

`guard_tools(tools, guard)` wraps each tool in a `WardTool` with the same
name, description and argument schema. The model sees the same tool; every
call goes through `Guard`:

- a deny becomes a tool error the model reads (`ToolMessage` with
  `status="error"`); the wrapped tool does not run;
- `require_approval`, with `on_approval="interrupt"`, calls LangGraph's
  `interrupt()` with the approval (`ApprovalRequired.to_interrupt()`). Once
  the approval is decided in Ward, resume the graph with
  `Command(resume=...)` (any value): the tool call is asked again with the
  approval id, and runs only if the gate now permits it. A call still
  pending interrupts again. This needs a checkpointer, as every LangGraph
  interrupt does. `"raise"` lets `ApprovalRequired` propagate and `"wait"`
  polls, as in `Guard`;
- constraints go to tools that declare a `constraints` argument, usually
  `Annotated[Optional[ward.Constraints], InjectedToolArg]` so that the model
  never sees it.

The idempotency key of each call comes from the tool call id, which is also
what makes the interrupt's replay ask about the same approval.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any, Callable, Literal, Optional, Sequence, Union

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException, tool as as_tool
from pydantic import ConfigDict
from pydantic_core import to_jsonable_python

from .errors import ApprovalRequired, Denied, WardError
from .guard import Guard, Permit, _constraints

__all__ = ["WardTool", "WardToolError", "guard_tool", "guard_tools"]

OnApproval = Literal["raise", "wait", "interrupt"]

_call_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
    "ward_langchain_call_id", default=None
)


class WardToolError(ToolException):
    """A Ward deny, shown to the model as the tool's error."""

    def __init__(self, error: WardError):
        super().__init__(str(error))
        self.error = error


def _handle(e: ToolException) -> str:
    if isinstance(e, WardToolError):
        return str(e)
    raise e  # the wrapped tool's own error, as if it were not wrapped


def _fields(schema: Any) -> set[str]:
    if schema is None:
        return set()
    if isinstance(schema, dict):
        return set(schema.get("properties", {}))
    return set(getattr(schema, "model_fields", {}))


class WardTool(BaseTool):
    """A LangChain tool that runs its `inner` tool only as Ward permits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    guard: Guard
    on_approval: OnApproval = "raise"
    handle_tool_error: Union[bool, str, Callable[[ToolException], str], None] = _handle

    @property
    def _model_args(self) -> set[str]:
        return _fields(self.inner.tool_call_schema)

    @property
    def _takes_constraints(self) -> bool:
        return "constraints" in _fields(self.inner.args_schema)

    # The tool call id reaches `run`, not `_run`; carry it across.
    def run(self, tool_input: Any, *args: Any, tool_call_id: Optional[str] = None,
            **kwargs: Any) -> Any:
        token = _call_id.set(tool_call_id)
        try:
            return super().run(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _call_id.reset(token)

    async def arun(self, tool_input: Any, *args: Any, tool_call_id: Optional[str] = None,
                   **kwargs: Any) -> Any:
        token = _call_id.set(tool_call_id)
        try:
            return await super().arun(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _call_id.reset(token)

    def _split(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The model's arguments (asked about) and the injected ones (passed through)."""
        model_args = self._model_args
        asked = {k: v for k, v in kwargs.items() if k in model_args}
        injected = {k: v for k, v in kwargs.items() if k not in model_args and k != "constraints"}
        return to_jsonable_python(asked), injected

    def _tool_input(self, permit: Permit, injected: dict[str, Any]) -> dict[str, Any]:
        if permit.has_constraints and not self._takes_constraints:
            self.guard._refuse_unconstrainable(permit, False)
        tool_input = {**permit.args, **injected}
        if self._takes_constraints:
            tool_input["constraints"] = permit.constraints
        return tool_input

    def _check(self, args: dict[str, Any]) -> Permit:
        call_id = _call_id.get()
        mode = "wait" if self.on_approval == "wait" else "raise"
        try:
            return self.guard.check(self.name, args, call_id=call_id, on_approval=mode)
        except ApprovalRequired as held:
            if self.on_approval != "interrupt":
                raise
            from langgraph.types import interrupt

            while True:
                interrupt(held.to_interrupt())
                try:
                    return self.guard.check(self.name, args, call_id=call_id,
                                            approval_id=held.approval_id)
                except Denied as e:
                    if e.code != "approval_pending":
                        raise

    async def _acheck(self, args: dict[str, Any]) -> Permit:
        call_id = _call_id.get()
        mode = "wait" if self.on_approval == "wait" else "raise"
        try:
            return await self.guard.acheck(self.name, args, call_id=call_id, on_approval=mode)
        except ApprovalRequired as held:
            if self.on_approval != "interrupt":
                raise
            from langgraph.types import interrupt

            while True:
                interrupt(held.to_interrupt())
                try:
                    return await self.guard.acheck(self.name, args, call_id=call_id,
                                                   approval_id=held.approval_id)
                except Denied as e:
                    if e.code != "approval_pending":
                        raise

    def _run(self, *, config: RunnableConfig, run_manager: Any = None, **kwargs: Any) -> Any:
        asked, injected = self._split(kwargs)
        try:
            permit = self._check(asked)
            tool_input = self._tool_input(permit, injected)
        except ApprovalRequired:
            raise
        except WardError as e:
            raise WardToolError(e) from e
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            child = run_manager.get_child() if run_manager else None
            result = self.inner.invoke(tool_input, config={**(config or {}), "callbacks": child})
        except Exception as e:
            self.guard.report_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        try:
            return self.guard.report(permit, result, started)
        except WardError as e:
            raise WardToolError(e) from e

    async def _arun(self, *, config: RunnableConfig, run_manager: Any = None,
                    **kwargs: Any) -> Any:
        asked, injected = self._split(kwargs)
        try:
            permit = await self._acheck(asked)
            tool_input = self._tool_input(permit, injected)
        except ApprovalRequired:
            raise
        except WardError as e:
            raise WardToolError(e) from e
        started = time.monotonic()
        token = _constraints.set(permit.constraints)
        try:
            child = run_manager.get_child() if run_manager else None
            result = await self.inner.ainvoke(tool_input, config={**(config or {}), "callbacks": child})
        except Exception as e:
            await self.guard.areport_error(permit, e, started)
            raise
        finally:
            _constraints.reset(token)
        try:
            return await self.guard.areport(permit, result, started)
        except WardError as e:
            raise WardToolError(e) from e


def guard_tool(tool: Union[BaseTool, Callable[..., Any]], guard: Guard, *,
               on_approval: OnApproval = "raise") -> WardTool:
    """Wraps one tool (a `BaseTool`, or a function that `@tool` would take)."""
    inner = tool if isinstance(tool, BaseTool) else as_tool(tool)
    return WardTool(name=inner.name, description=inner.description,
                    args_schema=inner.args_schema, return_direct=inner.return_direct,
                    inner=inner, guard=guard, on_approval=on_approval)


def guard_tools(tools: Sequence[Union[BaseTool, Callable[..., Any]]], guard: Guard, *,
                on_approval: OnApproval = "raise") -> list[WardTool]:
    """Wraps every tool; give the result to `create_agent` or a `ToolNode`."""
    return [guard_tool(t, guard, on_approval=on_approval) for t in tools]
