"""Every example runs, and the docs show each one verbatim.

docs/python.md marks each example block with the file it shows:

    <!-- example: sdk/python/examples/NAME.py -->
    ```python
    ...the file, byte for byte...
    ```

The README's Python block must equal examples/readme_langgraph.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

import ward
from conftest import REPO, Gate
from fakes import calls, script

import examples.langgraph_agent as langgraph_agent
import examples.quickstart as quickstart

EXAMPLES = REPO / "sdk" / "python" / "examples"
MARKED = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)```\n", re.S)


def blocks(doc: Path) -> dict[str, str]:
    return {name: body for name, body in MARKED.findall(doc.read_text())}


def test_docs_python_md_shows_every_example_verbatim() -> None:
    shown = blocks(REPO / "docs" / "python.md")
    files = {f"sdk/python/examples/{p.name}" for p in EXAMPLES.glob("*.py")}
    assert set(shown) == files
    for name, body in shown.items():
        assert body == (REPO / name).read_text(), f"docs/python.md shows an old {name}"


def test_the_readme_shows_the_langgraph_example_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    snippet = (EXAMPLES / "readme_langgraph.py").read_text()
    assert f"```python\n{snippet}```\n" in readme, \
        "README.md must show sdk/python/examples/readme_langgraph.py in a python block"


def approver(gate: Gate) -> Any:
    """A finance approver (a second identity) who votes in Ward over HTTP."""
    finance = gate.finance()

    def wait_for_approver(held: Any) -> None:
        approval_id = held["approval_id"] if isinstance(held, dict) else held
        finance.approve(approval_id, "checked")

    return wait_for_approver


def test_quickstart(gate: Gate, capsys: pytest.CaptureFixture[str]) -> None:
    quickstart.main(gate.base, gate.agent_key, "s-quickstart", approver(gate))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "{'order_id': '8812', 'status': 'shipped'}"
    assert lines[1] == "[{'row': 0}, {'row': 1}, {'row': 2}]"
    assert lines[2].startswith("held for ['role:finance'] as apr_")
    assert lines[3:] == ["refunded $750.00 on order 8812", "denied: delete-needs-admin"]


def test_langgraph_agent(gate: Gate) -> None:
    model = script(calls(("lookup_order", {"order_id": "8812"}, "call_1"),
                         ("approve_refund", {"order_id": "8812", "amount": 750.0}, "call_2"),
                         ("approve_refund", {"order_id": "7001", "amount": 520.0}, "call_3")),
                   "Order 8812 shipped, and both refunds are done.")
    held: list[str] = []
    approve = approver(gate)

    def wait_for_approver(pending: dict[str, Any]) -> None:
        held.append(pending["args"]["order_id"])
        approve(pending)

    answer = langgraph_agent.run(model, gate.client(), "Refund orders 8812 and 7001.",
                                 wait_for_approver)
    assert answer == "Order 8812 shipped, and both refunds are done."
    assert sorted(held) == ["7001", "8812"]  # two calls held at once, both resumed


def test_the_readme_langgraph_snippet(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in gate.env().items():
        monkeypatch.setenv(k, v)
    ran: list[str] = []

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by id."""
        ran.append(order_id)
        return "shipped"

    scope: dict[str, Any] = {
        "model": script(calls(("lookup_order", {"order_id": "8812"}, "call_1")), "Shipped."),
        "tools": [lookup_order],
    }
    exec(compile((EXAMPLES / "readme_langgraph.py").read_text(), "readme_langgraph.py", "exec"),
         scope)
    assert scope["result"]["messages"][-1].content == "Shipped." and ran == ["8812"]
    assert isinstance(scope["guard"], ward.Guard)
