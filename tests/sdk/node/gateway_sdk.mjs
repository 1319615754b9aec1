// The official OpenAI Node SDK against `frugal serve` (run by tests/cli/gateway_sdk.rs with
// FRUGAL_BASE, FRUGAL_TOKEN and FRUGAL_CAPPED). Throws on a failed check; prints a JSON summary.
import OpenAI from "openai";

const base = process.env.FRUGAL_BASE + "/v1";
const client = new OpenAI({ baseURL: base, apiKey: process.env.FRUGAL_TOKEN });
const seen = {};
const check = (ok, what) => { if (!ok) throw new Error(what); };

const r = await client.chat.completions.create({ model: "frugal/local", max_tokens: 16, temperature: 0, messages: [{ role: "user", content: "Say hello." }] });
check(r.choices[0].message.content, "no local answer");
seen.local = r.choices[0].message.content;

const stream = await client.chat.completions.create({ model: "frugal/economy", max_tokens: 40, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello." }] });
let text = "";
let usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
check(text.length > 0, "no streamed text");
check(usage && usage.prompt_tokens > 0, "no usage chunk");
seen.stream = text;

try {
  await new OpenAI({ baseURL: base, apiKey: process.env.FRUGAL_CAPPED }).chat.completions.create({ model: "frugal/economy", max_tokens: 100000, messages: [{ role: "user", content: "hi" }] });
  throw new Error("the cap did not refuse");
} catch (e) {
  check(e instanceof OpenAI.RateLimitError, `not a RateLimitError: ${e}`);
  check(e.status === 429 && e.code === "budget_exceeded", `wrong 429: ${e.status} ${e.code}`);
  seen.refused = e.message;
}
console.log(JSON.stringify(seen));
