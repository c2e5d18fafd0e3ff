"""Scripted models, built on each framework's own test doubles. No network."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Optional

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class ScriptedChatModel(GenericFakeChatModel):
    """LangChain's `GenericFakeChatModel`, able to be given tools (it ignores them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedChatModel":
        return self


def calls(*specs: tuple[str, dict[str, Any], str]) -> AIMessage:
    """An AI message asking for tool calls `(name, args, id)`."""
    return AIMessage(content="", tool_calls=[
        {"name": n, "args": a, "id": i, "type": "tool_call"} for n, a, i in specs])


def script(*turns: Any) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(turns))


INSTRUCTION = re.compile(r"send (?:it|this|the [\w ]+) to ([\w.+-]+@[\w.-]+\w)", re.I)


class ObedientChatModel(ScriptedChatModel):
    """A model that fell for prompt injection: when a retrieved email tells it
    to send something to an address, it calls `send_email` to that address.
    Otherwise it follows its script."""

    def _generate(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage) and last.name == "read_inbox":
            found = INSTRUCTION.search(str(last.content))
            if found:
                msg = calls(("send_email", {"to": found.group(1), "subject": "Customer list",
                                            "body": "As requested, attached."}, "call_send"))
                return ChatResult(generations=[ChatGeneration(message=msg)])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


# -- the OpenAI Agents SDK: a stub `Model` that returns scripted turns --------

def agents_model(turns: Iterable[list[Any]]) -> Any:
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage

    class ScriptedModel(Model):
        def __init__(self) -> None:
            self.turns = list(turns)
            self.inputs: list[Any] = []

        async def get_response(self, system_instructions: Any, input: Any, model_settings: Any,
                               tools: Any, output_schema: Any, handoffs: Any, tracing: Any,
                               **kwargs: Any) -> Any:
            self.inputs.append(input)
            return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the tests do not stream")

    return ScriptedModel()


def agents_call(name: str, args: dict[str, Any], call_id: str) -> list[Any]:
    from openai.types.responses import ResponseFunctionToolCall

    return [ResponseFunctionToolCall(type="function_call", call_id=call_id, name=name,
                                     arguments=json.dumps(args), id=f"fc_{call_id}",
                                     status="completed")]


def agents_say(text: str) -> list[Any]:
    from openai.types.responses import ResponseOutputMessage, ResponseOutputText

    return [ResponseOutputMessage(type="message", id="msg_1", role="assistant",
                                  status="completed",
                                  content=[ResponseOutputText(type="output_text", text=text,
                                                              annotations=[])])]


# -- CrewAI: a `BaseLLM` that answers with scripted ReAct turns --------------

def crewai_llm(turns: Iterable[str]) -> Any:
    from crewai.llms.base_llm import BaseLLM

    class ScriptedLLM(BaseLLM):
        def __init__(self) -> None:
            super().__init__(model="scripted")
            self._turns = list(turns)
            self.seen: list[Any] = []

        def call(self, messages: Any, tools: Any = None, callbacks: Any = None,
                 available_functions: Any = None, from_task: Any = None,
                 from_agent: Any = None, response_model: Any = None) -> str:
            self.seen.append(messages)
            return self._turns.pop(0)

        def supports_function_calling(self) -> bool:
            return False

    return ScriptedLLM()
