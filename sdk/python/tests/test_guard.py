"""The guard against a real gate: each outcome, approvals, results, content."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Optional

import pytest

import ward
from conftest import Counter, Gate

RECENT = {"order_age_days": 3}


def refund_context(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """The application's facts: how old the order is (never the model's to say)."""
    return RECENT if tool == "approve_refund" else {}


def test_an_allowed_call_runs_once_and_its_result_is_recorded(gate: Gate, counter: Counter) -> None:
    guard = ward.Guard(gate.client())

    def lookup_order(order_id: str) -> dict[str, str]:
        counter.calls.append({"order_id": order_id})
        return {"order_id": order_id, "status": "shipped"}

    permit_seen: list[ward.Permit] = []
    real_check = guard.check

    def spy(*a: Any, **k: Any) -> ward.Permit:
        permit_seen.append(real_check(*a, **k))
        return permit_seen[-1]

    guard.check = spy  # type: ignore[method-assign]
    out = guard.call("lookup_order", lookup_order, {"order_id": "8812"}, call_id="call_1")
    assert out == {"order_id": "8812", "status": "shipped"}
    assert counter.calls == [{"order_id": "8812"}]
    decision = permit_seen[0].decision
    assert (decision.outcome, decision.reasons[0].rule) == ("allow", "reads-allowed")
    assert decision.receipt and decision.receipt.startswith("c2sp.org/tlog-proof@v1")
    runs = gate.executions(decision.decision_id)
    assert [e["entry"]["status"] for e in runs] == ["ok"], runs


def test_a_denied_call_never_runs(gate: Gate, counter: Counter) -> None:
    guard = ward.Guard(gate.client())

    def delete_customer(customer_id: str) -> str:
        counter.calls.append({"customer_id": customer_id})
        return "deleted"

    with pytest.raises(ward.Denied) as e:
        guard.call("delete_customer", delete_customer, {"customer_id": "c-1"}, call_id="c1")
    assert e.value.decision.reasons[0].rule == "delete-needs-admin"
    assert not e.value.decision.local
    with pytest.raises(ward.Denied) as e:
        guard.call("wire_transfer", delete_customer, {"amount": 1})
    assert e.value.code == "unknown_tool"
    with pytest.raises(ward.Denied) as e:  # a refund on a 45-day-old order
        guard.call("approve_refund", delete_customer, {"order_id": "1", "amount": 5.0},
                   context={"order_age_days": 45})
    assert e.value.decision.reasons[0].rule == "refund-too-old"
    assert counter.n == 0


def test_constraints_are_passed_to_the_tool_and_a_tool_that_cannot_take_them_does_not_run(
    gate: Gate, counter: Counter
) -> None:
    guard = ward.Guard(gate.client())

    def sql_query(query: str, constraints: Optional[ward.Constraints] = None) -> list[int]:
        counter.calls.append({"query": query, "constraints": constraints})
        assert ward.current_constraints() == constraints
        return list(range(constraints.max_rows if constraints and constraints.max_rows else 3))

    rows = guard.call("sql_query", sql_query, {"query": "select id from orders"})
    assert len(rows) == 100
    assert counter.calls[0]["constraints"] == ward.Constraints(read_only=True, max_rows=100)

    def unconstrained(query: str) -> str:
        counter.calls.append({"query": query})
        return "everything"

    with pytest.raises(ward.Denied) as e:
        guard.call("sql_query", unconstrained, {"query": "delete from orders"})
    assert "takes no `constraints`" in str(e.value)
    assert counter.n == 1


def test_remediate_runs_the_tool_with_the_rewritten_arguments_only(gate: Gate,
                                                                  counter: Counter) -> None:
    guard = ward.Guard(gate.client())

    @guard.wrap
    def send_email(to: str, subject: str, body: str) -> str:
        counter.calls.append({"to": to, "body": body})
        return "sent"

    assert send_email(to="pat@example.com", subject="Your account",
                      body="Your SSN 123-45-6789 is on file.", ward_call_id="m1") == "sent"
    assert counter.calls == [{"to": "pat@example.com",
                              "body": "Your SSN [REDACTED SSN] is on file."}]


def test_a_tool_result_is_redacted_or_withheld_as_the_gate_says(gate: Gate,
                                                               counter: Counter) -> None:
    guard = ward.Guard(gate.client())

    def lookup_order(order_id: str) -> str:
        counter.calls.append({"order_id": order_id})
        return f"order {order_id}: customer pat@example.com, shipped"

    out = guard.call("lookup_order", lookup_order, {"order_id": "8812"})
    assert out == "order 8812: customer [REDACTED:pii.email], shipped"

    def read_inbox() -> str:
        counter.calls.append({})
        return "deploy key: ghp_4fTq8ZbX2mN7pL9sV3kR6wY1cH5jD0aE8uGi"

    with pytest.raises(ward.ResultWithheld) as e:
        guard.call("read_inbox", read_inbox, {})
    assert e.value.decision.reasons[0].rule == "quarantine-secrets-in-results"
    assert "ghp_" not in str(e.value)
    assert counter.n == 2


def test_a_tool_that_fails_is_reported_and_its_error_raised(gate: Gate) -> None:
    guard = ward.Guard(gate.client())
    seen: list[ward.Permit] = []
    real = guard.check
    guard.check = lambda *a, **k: seen.append(real(*a, **k)) or seen[-1]  # type: ignore

    def lookup_order(order_id: str) -> str:
        raise LookupError(f"no order {order_id}")

    with pytest.raises(LookupError):
        guard.call("lookup_order", lookup_order, {"order_id": "404"})
    runs = gate.executions(seen[0].decision.decision_id)
    assert [e["entry"]["status"] for e in runs] == ["error"], runs


def test_approval_raises_then_the_retry_with_the_approved_id_runs(gate: Gate,
                                                                 counter: Counter) -> None:
    guard = ward.Guard(gate.client(), context=refund_context)

    def approve_refund(order_id: str, amount: float) -> str:
        counter.calls.append({"order_id": order_id, "amount": amount})
        return "refunded"

    args = {"order_id": "8812", "amount": 750.0}
    with pytest.raises(ward.ApprovalRequired) as e:
        guard.call("approve_refund", approve_refund, args, call_id="r1")
    held = e.value
    assert held.approval_id.startswith("apr_") and held.approvers == ["role:finance"]
    # Asking again (the same tool call id) finds the same open approval; a
    # call waiting for approval does not settle its idempotency key.
    with pytest.raises(ward.ApprovalRequired) as again:
        guard.call("approve_refund", approve_refund, args, call_id="r1")
    assert again.value.approval_id == held.approval_id and not again.value.decision.replayed
    # Retrying before anyone approved is still a deny.
    with pytest.raises(ward.Denied) as pending:
        guard.call("approve_refund", approve_refund, args, call_id="r1",
                   approval_id=held.approval_id)
    assert pending.value.code == "approval_pending"
    # The agent may not approve its own call.
    with pytest.raises(ward.GateError) as own:
        gate.client().approve(held.approval_id)
    assert own.value.status == 403
    assert gate.finance().approve(held.approval_id, "checked")["status"] == "approved"
    # A changed amount is not what was approved.
    with pytest.raises(ward.Denied) as changed:
        guard.call("approve_refund", approve_refund, {**args, "amount": 900.0},
                   approval_id=held.approval_id)
    assert changed.value.code == "approval_mismatch"
    assert counter.n == 0
    assert guard.call("approve_refund", approve_refund, args, call_id="r1",
                      approval_id=held.approval_id) == "refunded"
    assert counter.calls == [args]


def approve_soon(gate: Gate, verdict: str = "approve") -> threading.Thread:
    """A finance approver who finds the pending refund and votes on it."""

    def run() -> None:
        finance = gate.finance()
        for _ in range(100):
            pending = finance._call("GET", "/v1/approvals?status=pending")
            mine = [a for a in pending["approvals"] if a["requester"] == "svc-support"
                    and a["args"].get("order_id") == "8812" and a["args"].get("amount") == 650]
            if mine:
                getattr(finance, verdict)(mine[0]["id"])
                return
            time.sleep(0.05)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_waiting_for_approval_retries_once_approved_or_denies_once_rejected(
    gate: Gate, counter: Counter
) -> None:
    def approve_refund(order_id: str, amount: float) -> str:
        counter.calls.append({"order_id": order_id})
        return "refunded"

    client = gate.client()
    guard = ward.Guard(client, on_approval="wait", poll_interval=0.05, approval_timeout=20,
                       context=refund_context)
    t = approve_soon(gate)
    assert guard.call("approve_refund", approve_refund, {"order_id": "8812", "amount": 650},
                      call_id="w1") == "refunded"
    t.join()
    assert counter.n == 1

    guard = ward.Guard(gate.client(), on_approval="wait", poll_interval=0.05,
                       approval_timeout=20, context=refund_context)
    t = approve_soon(gate, "reject")
    with pytest.raises(ward.Denied) as e:
        guard.call("approve_refund", approve_refund, {"order_id": "8812", "amount": 650},
                   call_id="w2")
    t.join()
    assert e.value.code == "approval_rejected"
    assert counter.n == 1

    guard = ward.Guard(gate.client(), on_approval="wait", poll_interval=0.05,
                       approval_timeout=0.2, context=refund_context)
    with pytest.raises(ward.ApprovalRequired):
        guard.call("approve_refund", approve_refund, {"order_id": "8812", "amount": 651})
    assert counter.n == 1


def test_input_and_output_content_is_reported(gate: Gate) -> None:
    guard = ward.Guard(gate.client())
    assert guard.input("Please refund order 8812.") == "Please refund order 8812."
    doc = "Shipping policy: refunds within 30 days."
    assert guard.input(doc, ward.Source(kind="retrieval", uri="kb://policy",
                                        trust="untrusted")) == doc
    assert guard.output("Your refund is on its way.") == "Your refund is on its way."


def test_the_async_guard(gate: Gate, counter: Counter) -> None:
    async def main() -> None:
        guard = ward.Guard(gate.client(), context=refund_context)

        async def lookup_order(order_id: str) -> str:
            counter.calls.append({"order_id": order_id})
            return "shipped"

        def approve_refund(order_id: str, amount: float) -> str:  # sync, run in a thread
            counter.calls.append({"order_id": order_id, "amount": amount})
            return "refunded"

        assert await guard.acall("lookup_order", lookup_order, {"order_id": "1"}) == "shipped"
        assert await guard.acall("approve_refund", approve_refund,
                                 {"order_id": "1", "amount": 20.0}) == "refunded"
        with pytest.raises(ward.Denied):
            await guard.acall("delete_customer", lookup_order, {"customer_id": "c"})
        with pytest.raises(ward.ApprovalRequired):
            await guard.acall("approve_refund", approve_refund,
                              {"order_id": "1", "amount": 5000.0})
        assert await guard.ainput("hello") == "hello"
        wrapped = guard.wrap(lookup_order)
        assert await wrapped("2") == "shipped"

    asyncio.run(main())
    asyncio.run(main())  # a second event loop gets its own connections
    assert counter.n == 6
