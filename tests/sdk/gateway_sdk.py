"""The official Python SDKs (openai, anthropic) against `frugal serve`.

Run by tests/cli/gateway_sdk.rs with FRUGAL_BASE (http://127.0.0.1:PORT), FRUGAL_TOKEN (an
app's token) and FRUGAL_CAPPED (the token of an app whose cap refuses a large request).
Each check raises on failure; the last line printed is a JSON summary the Rust test reads.
"""
import json
import os

import anthropic
import openai

base = os.environ["FRUGAL_BASE"]
token = os.environ["FRUGAL_TOKEN"]
capped = os.environ["FRUGAL_CAPPED"]
seen = {}

oa = openai.OpenAI(base_url=base + "/v1", api_key=token)

# Not streamed, on the local model; the raw response shows how it was served.
raw = oa.chat.completions.with_raw_response.create(
    model="frugal/local",
    max_tokens=16,
    temperature=0,
    seed=1,
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}],
)
r = raw.parse()
assert raw.headers["x-frugal-route"] == "local", raw.headers
assert r.choices[0].message.content, r
assert r.usage.completion_tokens > 0, r
seen["openai_local"] = r.choices[0].message.content

# Streamed from the cloud (the simulated provider), with the final usage chunk.
stream = oa.chat.completions.create(
    model="frugal/economy",
    max_tokens=40,
    stream=True,
    stream_options={"include_usage": True},
    messages=[{"role": "user", "content": "Say hello."}],
)
text, usage = "", None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
assert text, "no streamed text"
assert usage and usage.prompt_tokens > 0, usage
seen["openai_stream"] = text

# Streamed locally, cut by a stop sequence.
stream = oa.chat.completions.create(
    model="frugal/local", max_tokens=32, stream=True, stop=["\n"], messages=[{"role": "user", "content": "List three fruits."}]
)
chunks = [c for c in stream if c.choices]
local = "".join(c.choices[0].delta.content or "" for c in chunks)
finish = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason]
assert local.strip() and "\n" not in local, repr(local)
assert finish == ["stop"] or finish == ["length"], finish

assert [m.id for m in oa.models.list()] == ["frugal/auto", "frugal/local", "frugal/economy", "sim/sim-small"]

# A cap refuses: a RateLimitError the SDK does not retry (x-should-retry: false).
try:
    openai.OpenAI(base_url=base + "/v1", api_key=capped).chat.completions.create(
        model="frugal/economy", max_tokens=100000, messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("the cap did not refuse")
except openai.RateLimitError as e:
    assert e.status_code == 429
    assert e.body["code"] == "budget_exceeded", e.body
    seen["openai_429"] = e.body["message"]

try:
    openai.OpenAI(base_url=base + "/v1", api_key="frugal-wrong", max_retries=0).models.list()
    raise AssertionError("a wrong token was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401

an = anthropic.Anthropic(base_url=base, api_key=token)
m = an.messages.create(
    model="sim/sim-small", max_tokens=400, system="Be brief.", messages=[{"role": "user", "content": "Say hello."}]
)
assert m.content[0].type == "text" and m.content[0].text, m
assert m.stop_reason == "end_turn" and m.usage.output_tokens > 0, m
seen["anthropic_cloud"] = m.content[0].text

with an.messages.stream(model="frugal/local", max_tokens=16, messages=[{"role": "user", "content": "Count to three."}]) as s:
    streamed = "".join(s.text_stream)
    final = s.get_final_message()
assert streamed and final.stop_reason in ("end_turn", "max_tokens"), final
seen["anthropic_stream"] = streamed

count = an.messages.count_tokens(model="frugal/local", messages=[{"role": "user", "content": "Count to three."}])
assert count.input_tokens > 2, count

try:
    # 10,000 tokens: a worst case over $0.01, and under the SDK's own limit for a request
    # that is not streamed.
    anthropic.Anthropic(base_url=base, api_key=capped).messages.create(
        model="frugal/economy", max_tokens=10000, messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("the cap did not refuse")
except anthropic.RateLimitError as e:
    assert e.status_code == 429
    seen["anthropic_429"] = str(e)

print(json.dumps(seen))
