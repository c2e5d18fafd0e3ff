"""OpenAI Agents SDK function tools, driven by a stub `Model` with scripted turns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled

import ward
from conftest import Counter, Gate
from fakes import agents_call, agents_model, agents_say
from ward.openai_agents import guard_function_tool

import examples.openai_agents_agent as example

set_tracing_disabled(True)


def outputs(model: Any) -> dict[str, str]:
    """The tool outputs the model was shown, by call id."""
    return {i["call_id"]: i["output"] for i in model.inputs[-1]
            if isinstance(i, dict) and i.get("type") == "function_call_output"}


def test_the_example_runs_an_allowed_call_and_a_denied_one(gate: Gate) -> None:
    example.DELETED.clear()
    model = agents_model([
        agents_call("lookup_order", {"order_id": "8812"}, "call_1"),
        agents_call("delete_customer", {"customer_id": "c-9"}, "call_2"),
        agents_say("Order 8812 has shipped. I cannot delete customers."),
    ])
    answer = asyncio.run(example.ask(model, gate.client(), "Where is 8812? Delete c-9."))
    assert answer == "Order 8812 has shipped. I cannot delete customers."
    shown = outputs(model)
    assert shown["call_1"] == "order 8812: shipped"
    assert "Ward did not let this call through" in shown["call_2"]
    assert "delete-needs-admin" in shown["call_2"]
    assert example.DELETED == []  # the tool provably did not run


def test_remediate_constraints_and_approval(gate: Gate, counter: Counter) -> None:
    @function_tool
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email to a customer."""
        counter.calls.append({"body": body})
        return "sent"

    @function_tool
    def sql_query(query: str) -> str:
        """Run SQL against the support replica."""
        counter.calls.append({"constraints": ward.current_constraints()})
        return "rows"

    @function_tool
    def approve_refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        counter.calls.append({"refund": amount})
        return "refunded"

    guard = ward.Guard(gate.client(), context={"order_age_days": 3})
    tools = [guard_function_tool(send_email, guard),
             guard_function_tool(sql_query, guard, accepts_constraints=True),
             guard_function_tool(approve_refund, guard)]
    model = agents_model([
        agents_call("send_email", {"to": "pat@example.com", "subject": "SSN",
                                   "body": "Your SSN is 123-45-6789."}, "call_e"),
        agents_call("sql_query", {"query": "select 1"}, "call_q"),
        agents_say("Done."),
    ])
    agent = Agent(name="support", instructions="help", model=model, tools=tools)
    assert asyncio.run(Runner.run(agent, "go")).final_output == "Done."
    assert counter.calls == [{"body": "Your SSN is [REDACTED SSN]."},
                             {"constraints": ward.Constraints(read_only=True, max_rows=100)}]

    model = agents_model([agents_call("approve_refund", {"order_id": "8812", "amount": 900.0},
                                      "call_r")])
    agent = Agent(name="support", instructions="help", model=model, tools=tools)
    with pytest.raises(ward.ApprovalRequired) as held:
        asyncio.run(Runner.run(agent, "refund"))
    assert held.value.approvers == ["role:finance"]
    assert len(counter.calls) == 2


def test_a_tool_not_declared_to_take_constraints_does_not_run_constrained(
    gate: Gate, counter: Counter
) -> None:
    @function_tool
    def sql_query(query: str) -> str:
        """Run SQL."""
        counter.calls.append({"query": query})
        return "rows"

    model = agents_model([agents_call("sql_query", {"query": "select 1"}, "call_q"),
                          agents_say("No.")])
    agent = Agent(name="support", instructions="help", model=model,
                  tools=[guard_function_tool(sql_query, ward.Guard(gate.client()))])
    asyncio.run(Runner.run(agent, "go"))
    assert "takes no `constraints`" in outputs(model)["call_q"]
    assert counter.n == 0


def test_a_gate_that_is_down_means_no_tool_runs(gate: Gate, counter: Counter) -> None:
    @function_tool
    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        counter.calls.append({"order_id": order_id})
        return "shipped"

    down = ward.Client("http://127.0.0.1:9", gate.agent_key, gate.actor(), timeout=0.5)
    model = agents_model([agents_call("lookup_order", {"order_id": "1"}, "call_1"),
                          agents_say("The gate is down.")])
    agent = Agent(name="support", instructions="help", model=model,
                  tools=[guard_function_tool(lookup_order, ward.Guard(down))])
    asyncio.run(Runner.run(agent, "go"))
    assert "internal_error" in outputs(model)["call_1"]
    assert counter.n == 0
