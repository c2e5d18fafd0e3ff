"""An OpenAI Agents SDK agent whose function tools ask Ward first."""

from agents import Agent, Runner, function_tool

import ward
from ward.openai_agents import guard_function_tools

DELETED: list[str] = []


@function_tool
def lookup_order(order_id: str) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped"


@function_tool
def delete_customer(customer_id: str) -> str:
    """Delete a customer and their data."""
    DELETED.append(customer_id)
    return f"deleted {customer_id}"


async def ask(model, client: ward.Client, question: str) -> str:
    guard = ward.Guard(client)
    agent = Agent(name="support", instructions="Help the customer.", model=model,
                  tools=guard_function_tools([lookup_order, delete_customer], guard))
    result = await Runner.run(agent, await guard.ainput(question))
    return await guard.aoutput(result.final_output)
