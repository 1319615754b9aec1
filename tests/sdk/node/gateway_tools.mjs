// A tool call with the official OpenAI Node SDK through `frugal serve` (run by
// tests/cli/gateway_tools.rs with FRUGAL_BASE and FRUGAL_TOKEN). Throws on a failed check;
// prints a JSON summary.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.FRUGAL_BASE + "/v1", apiKey: process.env.FRUGAL_TOKEN });
const check = (ok, what) => { if (!ok) throw new Error(what); };
const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];

const stream = client.chat.completions.stream({ model: "frugal/auto", max_tokens: 64, tools, messages: [{ role: "user", content: "Weather in Oslo?" }] });
const done = await stream.finalChatCompletion();
const call = done.choices[0].message.tool_calls?.[0];
check(done.choices[0].finish_reason === "tool_calls", `finish: ${done.choices[0].finish_reason}`);
check(call && JSON.parse(call.function.arguments).city, `no call: ${JSON.stringify(done)}`);
console.log(JSON.stringify({ name: call.function.name, arguments: JSON.parse(call.function.arguments) }));
