"""A LangGraph agent whose every tool asks Ward first; approvals are interrupts."""

from typing import Annotated, Optional

from langchain.agents import create_agent
from langchain_core.tools import InjectedToolArg, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import ward
from ward.langchain import guard_tools


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped"


@tool
def approve_refund(order_id: str, amount: float) -> str:
    """Refund an order, in US dollars."""
    return f"refunded ${amount:.2f} on order {order_id}"


@tool
def sql_query(query: str,
              constraints: Annotated[Optional[ward.Constraints], InjectedToolArg] = None) -> str:
    """Run SQL against the support replica."""
    # The model never sees `constraints`; Ward's go here, and the tool obeys them.
    return f"ran {query!r} read-only, at most {constraints.max_rows} rows"


def order_facts(tool: str, args: dict) -> dict:
    return {"order_age_days": 3} if tool == "approve_refund" else {}  # from your systems


def build(model, client: ward.Client):
    guard = ward.Guard(client, context=order_facts)
    tools = guard_tools([lookup_order, approve_refund, sql_query], guard,
                        on_approval="interrupt")
    return create_agent(model, tools, checkpointer=InMemorySaver()), guard


def run(model, client: ward.Client, request: str, wait_for_approver) -> str:
    agent, guard = build(model, client)
    thread = {"configurable": {"thread_id": client.actor.session}}
    state = agent.invoke({"messages": [("user", guard.input(request))]}, thread)
    while "__interrupt__" in state:  # calls wait for a human
        for pending in state["__interrupt__"]:
            wait_for_approver(pending.value)  # {"approval_id", "tool", "args", "approvers", ...}
        # Resuming asks again with the approval ids; the gate decides, not the resume value.
        state = agent.invoke(Command(resume={i.id: True for i in state["__interrupt__"]}), thread)
    return state["messages"][-1].content
