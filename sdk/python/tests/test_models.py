"""The models against the JSON Schemas in docs/schema/, in both directions."""

from __future__ import annotations

import json
import typing
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

import ward
from ward import models
from conftest import REPO, Gate

SCHEMAS = REPO / "docs" / "schema"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


REQUEST, DECISION = schema("request"), schema("decision")

# Each model, and the schema object it mirrors.
MIRRORS = [
    (ward.Request, REQUEST, REQUEST),
    (ward.Actor, REQUEST, REQUEST["$defs"]["Actor"]),
    (ward.Principal, REQUEST, REQUEST["$defs"]["Principal"]),
    (ward.AgentRef, REQUEST, REQUEST["$defs"]["AgentRef"]),
    (ward.Source, REQUEST, REQUEST["$defs"]["ContentSource"]),
    (ward.Trace, REQUEST, REQUEST["$defs"]["Trace"]),
    (ward.Decision, DECISION, DECISION),
    (ward.Reason, DECISION, DECISION["$defs"]["Reason"]),
    (ward.PolicyRef, DECISION, DECISION["$defs"]["PolicyRef"]),
    (ward.Constraints, DECISION, DECISION["$defs"]["Constraints"]),
    (ward.ApprovalTicket, DECISION, DECISION["$defs"]["ApprovalTicket"]),
]


@pytest.mark.parametrize("model, _root, obj", MIRRORS, ids=lambda m: getattr(m, "__name__", ""))
def test_each_model_has_exactly_the_schemas_fields(model: type[BaseModel], _root: Any,
                                                   obj: dict[str, Any]) -> None:
    assert set(model.model_fields) == set(obj["properties"])
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert required == set(obj.get("required", []))
    assert obj["additionalProperties"] is False
    assert model.model_config.get("extra") == "forbid"


def consts(root: dict[str, Any], name: str) -> set[str]:
    return {v["const"] for v in root["$defs"][name]["oneOf"]}


def test_the_closed_sets_match_the_schemas() -> None:
    assert set(typing.get_args(models.Intervention)) == consts(REQUEST, "Intervention")
    assert set(typing.get_args(models.Trust)) == consts(REQUEST, "Trust")
    assert set(typing.get_args(models.PrincipalKind)) == consts(REQUEST, "PrincipalKind")
    assert set(typing.get_args(models.Outcome)) == consts(DECISION, "Outcome")
    assert set(typing.get_args(models.Mode)) == consts(DECISION, "Mode")
    assert ward.REASON_CODES == consts(DECISION, "ReasonCode")
    assert ward.PERMITS == {"allow", "allow_with_constraints", "remediate"}


def built_requests(gate: Gate) -> list[ward.Request]:
    guard = ward.Guard(gate.client(), context={"order_age_days": 3},
                       sources={"read_inbox": ward.Source(kind="email", trust="untrusted")})
    permit = guard.check("lookup_order", {"order_id": "8812"}, call_id="c1",
                         traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    inbox = guard.check("read_inbox", {})
    return [
        guard.request("approve_refund", {"order_id": "8812", "amount": 120.0}, call_id="c2"),
        guard.request("approve_refund", {"order_id": "8812", "amount": 750.0},
                      approval_id="apr_1"),
        guard._result_request(permit, "shipped"),
        guard._result_request(inbox, "Hi"),
        guard._content("input", "refund please", ward.Source(kind="user"), None),
        guard._content("output", "done", None, None),
    ]


def test_sdk_built_requests_validate_against_the_request_schema(gate: Gate) -> None:
    validator = jsonschema.Draft202012Validator(REQUEST)
    for request in built_requests(gate):
        validator.validate(request.to_wire())


def test_gate_decisions_validate_against_the_decision_schema_and_parse(gate: Gate) -> None:
    validator = jsonschema.Draft202012Validator(DECISION)
    client = gate.client()
    guard = ward.Guard(client, context={"order_age_days": 3})
    calls = [("lookup_order", {"order_id": "1"}), ("sql_query", {"query": "select 1"}),
             ("approve_refund", {"order_id": "1", "amount": 900.0}),
             ("send_email", {"to": "a@example.com", "subject": "s", "body": "SSN 123-45-6789"}),
             ("delete_customer", {"customer_id": "c"})]
    outcomes = set()
    for tool, args in calls:
        r = client._sync().post("/v1/decide", json=guard.request(tool, args).to_wire(),
                                headers=client._headers(None))
        validator.validate(r.json())
        parsed = ward.Decision.model_validate_json(r.content)
        assert parsed.model_dump(mode="json", exclude_none=True) == {
            k: v for k, v in r.json().items() if v is not None}
        outcomes.add(parsed.outcome)
    assert outcomes == set(typing.get_args(models.Outcome))
    validator.validate(ward.Decision.fail_closed("timeout", "x").model_dump(mode="json"))
