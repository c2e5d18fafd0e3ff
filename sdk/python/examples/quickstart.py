"""Plain Python tools: ask Ward before each call, and fail closed."""

import ward


def lookup_order(order_id: str) -> dict:
    return {"order_id": order_id, "status": "shipped"}


def sql_query(query: str, constraints: ward.Constraints | None = None) -> list:
    # Ward allows SQL only read-only and capped; a tool that takes
    # `constraints` gets them, and must obey them.
    limit = constraints.max_rows if constraints and constraints.max_rows else 1000
    return [{"row": i} for i in range(min(limit, 3))]


def approve_refund(order_id: str, amount: float) -> str:
    return f"refunded ${amount:.2f} on order {order_id}"


def main(url: str, api_key: str, session: str, wait_for_approver) -> None:
    actor = ward.Actor.service("svc-support", tenant="acme", agent="support-bot",
                               version="1.0.0", session=session)
    with ward.Client(url, api_key, actor, timeout=2.0) as client:
        # Facts about the world come from the application, never the model.
        guard = ward.Guard(client, context=lambda tool, args: {"order_age_days": 3})
        guard.input("Where is order 8812? And please refund $750.")  # the user's own words
        print(guard.call("lookup_order", lookup_order, {"order_id": "8812"}, call_id="call_1"))
        print(guard.call("sql_query", sql_query, {"query": "select id from orders"}))
        refund = {"order_id": "8812", "amount": 750.0}
        try:
            guard.call("approve_refund", approve_refund, refund, call_id="call_2")
        except ward.ApprovalRequired as held:
            print("held for", held.approvers, "as", held.approval_id)
            wait_for_approver(held.approval_id)  # your flow: a finance approver votes in Ward
            print(guard.call("approve_refund", approve_refund, refund, call_id="call_2",
                             approval_id=held.approval_id))
        try:
            guard.call("delete_customer", print, {"customer_id": "c-1"})
        except ward.Denied as denied:
            print("denied:", denied.decision.reasons[0].rule)
