import ward
from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver
from ward.langchain import guard_tools

guard = ward.Guard(ward.Client.from_env())  # WARD_URL, WARD_API_KEY, WARD_TENANT, ...
tools = guard_tools(tools, guard, on_approval="interrupt")  # every call asks Ward first
agent = create_agent(model, tools, checkpointer=InMemorySaver())
thread = {"configurable": {"thread_id": "t-1"}}
result = agent.invoke({"messages": [("user", "Where is order 8812?")]}, thread)
# A call held for approval stops at result["__interrupt__"]; once approved in Ward,
# agent.invoke(Command(resume=True), thread) asks again and runs it.
