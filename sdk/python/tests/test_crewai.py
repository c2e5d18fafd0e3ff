"""CrewAI tools: the wrapper on CrewAI's own `BaseTool`, and a crew run by a
scripted `BaseLLM` that answers in CrewAI's ReAct format."""

from __future__ import annotations

import threading
import time
from crewai.tools import BaseTool, tool
from pydantic import BaseModel

import ward
from conftest import Counter, Gate
from fakes import crewai_llm
from ward.crewai import guard_crewai_tool

import examples.crewai_crew as example


class DeleteArgs(BaseModel):
    customer_id: str


def test_the_wrapper_keeps_the_tool_and_runs_it_only_as_permitted(gate: Gate,
                                                                 counter: Counter) -> None:
    class DeleteCustomer(BaseTool):
        name: str = "delete_customer"
        description: str = "Delete a customer and their data."
        args_schema: type[BaseModel] = DeleteArgs

        def _run(self, customer_id: str) -> str:
            counter.calls.append({"customer_id": customer_id})
            return "deleted"

    @tool("lookup_order")
    def lookup_order(order_id: str) -> str:
        """Look up an order by id."""
        counter.calls.append({"order_id": order_id})
        return f"order {order_id}: customer pat@example.com"

    guard = ward.Guard(gate.client())
    delete = guard_crewai_tool(DeleteCustomer(), guard)
    assert (delete.name, delete.description, delete.args_schema) == \
        ("delete_customer", "Delete a customer and their data.", DeleteArgs)
    said = delete.run(customer_id="c-1")
    assert said.startswith("Ward did not let this call through") and "delete-needs-admin" in said
    assert isinstance(delete.last_error, ward.Denied) and counter.n == 0
    # An allowed call runs; its result comes back redacted, as the gate says.
    assert guard_crewai_tool(lookup_order, guard).run(order_id="8812") == \
        "order 8812: customer [REDACTED:pii.email]"
    assert counter.calls == [{"order_id": "8812"}]

    down = ward.Guard(ward.Client("http://127.0.0.1:9", gate.agent_key, gate.actor(),
                                  timeout=0.5))
    assert "internal_error" in guard_crewai_tool(lookup_order, down).run(order_id="1")
    assert counter.n == 1


def test_the_example_crew_waits_for_an_approval_then_refunds(gate: Gate) -> None:
    ran: list[float] = []
    real = example.approve_refund.func
    example.approve_refund.func = lambda order_id, amount: ran.append(amount) or real(
        order_id=order_id, amount=amount)
    llm = crewai_llm([
        'Thought: I should look the order up.\nAction: lookup_order\n'
        'Action Input: {"order_id": "8812"}',
        'Thought: It shipped; now the refund.\nAction: approve_refund\n'
        'Action Input: {"order_id": "8812", "amount": 620.0}',
        "Thought: I now know the final answer\nFinal Answer: Refunded $620 on order 8812.",
    ])
    client = gate.client()
    approver = threading.Thread(target=approve_when_pending, args=(gate, client.actor.session))
    approver.start()
    try:
        out = example.crew(llm, client).kickoff(inputs={"question": "Refund order 8812."})
    finally:
        example.approve_refund.func = real
        approver.join()
    assert out.raw == "Refunded $620 on order 8812."
    assert ran == [620.0]
    observations = str(llm.seen[-1])
    assert "order 8812: shipped" in observations and "refunded $620.00" in observations


def approve_when_pending(gate: Gate, session: str) -> None:
    finance = gate.finance()
    for _ in range(400):
        pending = finance._call("GET", "/v1/approvals?status=pending")["approvals"]
        mine = [a for a in pending if a["args"].get("amount") == 620.0]
        if mine:
            finance.approve(mine[0]["id"])
            return
        time.sleep(0.05)


def test_a_held_call_is_reported_to_the_agent_when_not_waiting(gate: Gate,
                                                              counter: Counter) -> None:
    @tool("approve_refund")
    def approve_refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        counter.calls.append({"amount": amount})
        return "refunded"

    guard = ward.Guard(gate.client(), context={"order_age_days": 3})
    said = guard_crewai_tool(approve_refund, guard).run(order_id="8812", amount=5000.0)
    assert said.startswith("Ward holds this call for approval apr_")
    assert counter.n == 0

