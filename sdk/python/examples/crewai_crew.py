"""A CrewAI crew whose tools ask Ward first; approvals are waited for."""

from crewai import Agent, Crew, Task
from crewai.tools import tool

import ward
from ward.crewai import guard_crewai_tools


@tool("lookup_order")
def lookup_order(order_id: str) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped"


@tool("approve_refund")
def approve_refund(order_id: str, amount: float) -> str:
    """Refund an order, in US dollars."""
    return f"refunded ${amount:.2f} on order {order_id}"


def crew(llm, client: ward.Client) -> Crew:
    guard = ward.Guard(client, on_approval="wait", approval_timeout=300,
                       context=lambda tool, args: {"order_age_days": 3})
    agent = Agent(role="Support agent", goal="Resolve order questions",
                  backstory="You help customers with their orders.", llm=llm,
                  tools=guard_crewai_tools([lookup_order, approve_refund], guard))
    task = Task(description="{question}", expected_output="A short answer", agent=agent)
    return Crew(agents=[agent], tasks=[task])
