"""Tool calls with the official Python SDKs (openai, anthropic) through `frugal serve`.

Run by tests/cli/gateway_tools.rs with FRUGAL_BASE and FRUGAL_TOKEN; the gateway has two
simulated clouds (`sim` speaks OpenAI, `claude` Anthropic), which call the tool offered.
Each check raises on failure; the last line printed is a JSON summary the Rust test reads.
"""
import json
import os

import anthropic
import openai

base = os.environ["FRUGAL_BASE"]
token = os.environ["FRUGAL_TOKEN"]
seen = {}
schema = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}
oa = openai.OpenAI(base_url=base + "/v1", api_key=token)
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": schema}}]
question = [{"role": "user", "content": "What is the weather in Oslo?"}]

# Not streamed, frugal/auto: escalated to the cloud because of the tools.
raw = oa.chat.completions.with_raw_response.create(model="frugal/auto", max_tokens=64, tools=tools, messages=question)
r = raw.parse()
assert raw.headers["x-frugal-route"] == "cloud", raw.headers
assert r.choices[0].finish_reason == "tool_calls", r
call = r.choices[0].message.tool_calls[0]
assert call.function.name == "get_weather" and json.loads(call.function.arguments)["city"], call

# The result goes back; the answer is text.
r = oa.chat.completions.create(
    model="frugal/auto",
    max_tokens=400,
    tools=tools,
    messages=question
    + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "12 C"},
    ],
)
assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content, r

# Streamed from the Anthropic upstream: the SDK joins the deltas into one call.
stream = oa.chat.completions.create(
    model="claude/sim-claude", max_tokens=64, tools=tools, tool_choice="required", stream=True, messages=question
)
name, args, finish = "", "", None
for chunk in stream:
    if not chunk.choices:
        continue
    for d in chunk.choices[0].delta.tool_calls or []:
        name += d.function.name or ""
        args += d.function.arguments or ""
    finish = chunk.choices[0].finish_reason or finish
assert name == "get_weather" and finish == "tool_calls", (name, finish)
seen["openai_stream_args"] = json.loads(args)

an = anthropic.Anthropic(base_url=base, api_key=token)
atools = [{"name": "get_weather", "description": "Weather in a city", "input_schema": schema}]
m = an.messages.create(model="frugal/auto", max_tokens=64, tools=atools, messages=question)
assert m.stop_reason == "tool_use", m
m0 = m
use = next(b for b in m.content if b.type == "tool_use")
assert use.name == "get_weather" and use.input["city"], use
m = an.messages.create(
    model="frugal/auto",
    max_tokens=400,
    tools=atools,
    messages=question
    + [
        {"role": "assistant", "content": m.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "12 C"}]},
    ],
)
assert m.stop_reason == "end_turn" and m.content[0].text, m

# Streamed, an OpenAI upstream behind the Anthropic protocol: input_json_delta joined by the SDK.
with an.messages.stream(
    model="sim/sim-small", max_tokens=64, tools=atools, tool_choice={"type": "any"}, messages=question
) as s:
    final = s.get_final_message()
assert final.stop_reason == "tool_use", final
use = next(b for b in final.content if b.type == "tool_use")
seen["anthropic_stream_input"] = use.input
# A tool-only answer streams as one tool_use block at index 0, like the non-streamed one:
# no empty text block before it.
assert [b.type for b in final.content] == ["tool_use"], final.content
assert [b.type for b in m0.content] == ["tool_use"], m0.content

count = an.messages.count_tokens(model="frugal/auto", tools=atools, messages=question)
plain = an.messages.count_tokens(model="frugal/auto", messages=question)
assert count.input_tokens > plain.input_tokens, (count, plain)

print(json.dumps(seen))
