//! Tool calls through `frugal serve`: offered in either protocol, passed to a cloud model
//! speaking either protocol (the simulated providers call the tool they are offered), the
//! call handed back in the client's own shape, its result sent on for the final answer;
//! `frugal/auto` escalates a request with tools (the local model cannot call them) and says
//! so; one that must stay local is a 400 before anything is recorded. The official SDKs'
//! side of the same is `tests/sdk/gateway_tools.py` and `node/gateway_tools.mjs`.

use std::path::PathBuf;

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use serde_json::{json, Value};

use crate::gateway::{add_app, header, json_of, post, rows, serve};
use crate::harness::{stderr, Env};

/// Two simulated providers: `sim` speaks OpenAI (economy), `claude` speaks Anthropic
/// (premium), so each client protocol meets each upstream protocol.
fn two_clouds() -> (SimServer, SimServer, Env) {
    let oa = SimServer::start(Kind::OpenAi).unwrap();
    let an = SimServer::start(Kind::Anthropic).unwrap();
    let env = Env::new();
    env.write_config(&format!(
        "[budget]\nmonthly_usd = 5.0\n\n\
         [[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nmax_retries = 0\n\n\
         [[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"sim-claude\"\ntier = \"premium\"\nneeds_key = false\nmax_retries = 0\n\n\
         [[prices]]\nmodel = \"sim-small\"\ninput = 0.5\noutput = 1.5\n\n\
         [[prices]]\nmodel = \"sim-claude\"\ninput = 1.0\noutput = 5.0\n",
        oa.base_url(),
        an.base_url()
    ));
    (oa, an, env)
}

fn weather_openai() -> Value {
    json!([{ "type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": { "type": "object", "properties": {
            "city": { "type": "string" }, "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] } },
            "required": ["city"] } } }])
}

fn weather_anthropic() -> Value {
    json!([{ "name": "get_weather", "description": "Current weather in a city",
        "input_schema": { "type": "object", "properties": {
            "city": { "type": "string" }, "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] } },
            "required": ["city"] } }])
}

/// The last request an upstream received, as JSON.
fn last_body(sim: &SimServer) -> Value {
    let r = sim.requests();
    serde_json::from_str(&r.last().expect("the upstream was called").body).unwrap()
}

#[test]
fn tool_calls_cross_both_protocols_and_auto_escalates_them() {
    let (oa, an, env) = two_clouds();
    let token = add_app(&env, &["agent"]);
    let local = add_app(&env, &["offline", "--local-only"]);
    let s = serve(&env);

    // OpenAI client, frugal/auto: the local model cannot call tools, so it escalates.
    let ask = json!({ "model": "frugal/auto", "temperature": 0, "max_tokens": 64, "tools": weather_openai(),
        "messages": [{ "role": "user", "content": "What is the weather in Oslo?" }] });
    let r = post(&s, "/v1/chat/completions", Some(&token), &ask);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "cloud");
    assert!(header(&r, "x-frugal-escalated").contains("tools"), "{}", header(&r, "x-frugal-escalated"));
    assert_eq!(header(&r, "x-frugal-cache"), "miss");
    let v = json_of(r);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather", "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({ "city": "sim", "unit": "celsius" }), "the streamed pieces were joined");
    let sent = last_body(&oa);
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather", "{sent}");

    // The same again is a cache hit with the same call, at $0, the upstream not asked.
    let before = oa.requests().len();
    let r = post(&s, "/v1/chat/completions", Some(&token), &ask);
    assert_eq!(header(&r, "x-frugal-cache"), "hit");
    assert_eq!(json_of(r)["choices"][0]["message"]["tool_calls"][0]["id"], call["id"]);
    assert_eq!(oa.requests().len(), before);

    // The tool's result goes back; the model answers in text.
    oa.respond_with(|body| {
        let last = &body["messages"].as_array().unwrap().last().unwrap().clone();
        format!("It is {} there.", last["content"].as_str().unwrap_or("?"))
    });
    let follow = json!({ "model": "frugal/auto", "max_tokens": 64, "tools": weather_openai(), "messages": [
        { "role": "user", "content": "What is the weather in Oslo?" },
        { "role": "assistant", "content": null, "tool_calls": [call] },
        { "role": "tool", "tool_call_id": call["id"], "content": "12 C and rain" } ] });
    let v = json_of(post(&s, "/v1/chat/completions", Some(&token), &follow));
    assert_eq!(v["choices"][0]["message"]["content"], "It is 12 C and rain there.", "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let sent = last_body(&oa);
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], call["id"], "{sent}");
    assert_eq!(sent["messages"][2]["role"], "tool");

    // Anthropic client, an OpenAI upstream (PROVIDER/MODEL): tool_use comes back as a block.
    let r = post(
        &s,
        "/v1/messages",
        Some(&token),
        &json!({ "model": "sim/sim-small", "max_tokens": 64, "tools": weather_anthropic(),
                 "tool_choice": { "type": "tool", "name": "get_weather" },
                 "messages": [{ "role": "user", "content": "Weather in Oslo?" }] }),
    );
    assert_eq!(r.status(), 200);
    let v = json_of(r);
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    let block = v["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
    assert_eq!((block["name"].clone(), block["input"]["city"].clone()), (json!("get_weather"), json!("sim")));
    let sent = last_body(&oa);
    assert_eq!(sent["tool_choice"], json!({ "type": "function", "function": { "name": "get_weather" } }));

    // OpenAI client, an Anthropic upstream: results travel as tool_result blocks there.
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({ "model": "claude/sim-claude", "max_tokens": 64, "tools": weather_openai(), "tool_choice": "required",
                 "messages": [{ "role": "system", "content": "Use tools." }, { "role": "user", "content": "Weather?" }] }),
    );
    let v = json_of(r);
    let call = v["choices"][0]["message"]["tool_calls"][0].clone();
    assert!(call["id"].as_str().unwrap().starts_with("toolu_"), "{v}");
    let sent = last_body(&an);
    assert_eq!(sent["tools"][0]["input_schema"]["required"], json!(["city"]), "{sent}");
    assert_eq!(sent["tool_choice"], json!({ "type": "any" }));
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({ "model": "claude/sim-claude", "max_tokens": 400, "tools": weather_openai(), "messages": [
            { "role": "user", "content": "Weather?" },
            { "role": "assistant", "content": null, "tool_calls": [call] },
            { "role": "tool", "tool_call_id": call["id"], "content": "sunny" } ] }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r)["choices"][0]["finish_reason"], "stop");
    let sent = last_body(&an);
    assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result", "{sent}");
    assert_eq!(sent["messages"][2]["content"][0]["tool_use_id"], call["id"]);

    // Requests that must stay local: a 400 that says why, nothing routed or recorded.
    let rows_before = rows(&env).len();
    for (tok, model, says) in [
        (&token, "frugal/local", "`frugal/local` is the local model"),
        (&local, "frugal/auto", "the app is local-only"),
    ] {
        let r = post(
            &s,
            "/v1/chat/completions",
            Some(tok),
            &json!({ "model": model, "max_tokens": 8, "tools": weather_openai(),
                     "messages": [{ "role": "user", "content": "Weather?" }] }),
        );
        assert_eq!(r.status(), 400);
        let m = json_of(r)["error"]["message"].as_str().unwrap().to_string();
        assert!(
            m.contains("uses tools, which the local model cannot call") && m.contains(says) && !m.contains('\n'),
            "{m}"
        );
    }
    // Malformed tool input: one line each, in the protocol's shape.
    for (path, body, says) in [
        (
            "/v1/chat/completions",
            json!({ "model": "frugal/auto", "tools": [{ "type": "function", "function": { "name": "bad name" } }], "messages": [{ "role": "user", "content": "x" }] }),
            "tools[0].function.name",
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "frugal/auto", "messages": [{ "role": "tool", "content": "x" }] }),
            "tool_call_id",
        ),
        (
            "/v1/chat/completions",
            json!({ "model": "frugal/auto", "tools": weather_openai(), "tool_choice": { "type": "function", "function": { "name": "other" } }, "messages": [{ "role": "user", "content": "x" }] }),
            "not one of the tools",
        ),
        (
            "/v1/messages",
            json!({ "model": "frugal/auto", "max_tokens": 8, "tools": [{ "type": "web_search_20250305", "name": "web_search" }], "messages": [{ "role": "user", "content": "x" }] }),
            "server tool",
        ),
        (
            "/v1/messages",
            json!({ "model": "frugal/auto", "max_tokens": 8, "messages": [{ "role": "assistant", "content": [{ "type": "tool_result", "tool_use_id": "t" }] }] }),
            "does not belong",
        ),
    ] {
        let r = post(&s, path, Some(&token), &body);
        assert_eq!(r.status(), 400, "{body}");
        let v = json_of(r);
        let m = v["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains(says) && !m.contains('\n'), "{says}: {v}");
    }
    assert_eq!(rows(&env).len(), rows_before, "refused before routing: no rows");
    drop(s);
    let all = rows(&env);
    assert!(all.iter().all(|r| r["state"] == "settled"), "{all:?}");
}

fn python() -> PathBuf {
    crate::gateway_sdk::python()
}

#[test]
fn the_official_sdks_call_tools_through_the_gateway_streamed_and_not() {
    let (oa, an, env) = two_clouds();
    let token = add_app(&env, &["sdk-tools"]);
    let s = serve(&env);
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let run = |program: PathBuf, script: PathBuf| {
        let out = std::process::Command::new(program)
            .arg(script)
            .env("FRUGAL_BASE", &s.base)
            .env("FRUGAL_TOKEN", &token)
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .unwrap();
        assert!(out.status.success(), "stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<Value>(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let py = run(python(), sdk.join("gateway_tools.py"));
    assert_eq!(py["openai_stream_args"], json!({ "city": "sim", "unit": "celsius" }), "{py}");
    assert_eq!(py["anthropic_stream_input"], json!({ "city": "sim", "unit": "celsius" }), "{py}");
    let node = run(PathBuf::from("node"), sdk.join("node/gateway_tools.mjs"));
    assert_eq!(node["name"], "get_weather", "{node}");
    // Both upstreams were reached, each with the tools in its own protocol's shape.
    assert!(oa.requests().iter().any(|r| r.body.contains("\"parameters\"")));
    assert!(an.requests().iter().any(|r| r.body.contains("\"input_schema\"")));
    drop(s);
    let all = rows(&env);
    assert!(all.iter().all(|r| r["state"] == "settled" && r["route"] == "cloud"), "{all:?}");
}
