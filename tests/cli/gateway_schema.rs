//! `frugal/auto` with a response schema: the local answer (written under the schema's
//! grammar) is validated before it is handed out; one that does not validate — here, cut
//! off by the token limit — escalates to the cloud with the reason, metered like the rest.
//! A local-only app, or `frugal/local`, gets the local answer whatever it is.

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use serde_json::{json, Value};

use crate::gateway::{add_app, gateway_env, header, json_of, post, rows, serve};

fn with_schema(model: &str, max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": max_tokens, "temperature": 0, "stream": stream,
        "messages": [{ "role": "user", "content": "Is water wet? Answer in JSON." }],
        "response_format": { "type": "json_schema", "json_schema": { "name": "verdict", "schema": {
            "type": "object", "properties": { "answer": { "enum": ["yes", "no"] } },
            "required": ["answer"], "additionalProperties": false,
        } } },
    })
}

#[test]
fn a_local_answer_that_fails_its_schema_escalates_and_a_valid_one_stays() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let app = add_app(&env, &["tool", "--no-cache"]);
    let private = add_app(&env, &["private", "--local-only", "--no-cache"]);
    let capped = add_app(&env, &["capped", "--monthly-usd", "0"]);
    let s = serve(&env);
    let path = "/v1/chat/completions";

    // Valid: answered here, and it is what the schema says.
    let r = post(&s, path, Some(&app), &with_schema("frugal/auto", 200, false));
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "local");
    let v = json_of(r);
    let content: Value = serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(content["answer"] == "yes" || content["answer"] == "no", "{content}");
    assert!(sim.requests().is_empty());

    // Cut off at 3 tokens: not JSON, so the cloud answers, saying why.
    let r = post(&s, path, Some(&app), &with_schema("frugal/auto", 3, false));
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "cloud");
    let why = header(&r, "x-frugal-escalated");
    assert!(why.contains("did not match the response schema") && why.contains("cut off"), "{why}");
    assert_eq!(sim.requests().len(), 1);
    let sent = &sim.requests()[0].body;
    assert!(sent.to_string().contains("json_schema"), "the schema goes to the cloud too: {sent}");
    // Streamed, the same: the local attempt is checked before anything is sent.
    let r = post(&s, path, Some(&app), &with_schema("frugal/auto", 3, true));
    assert_eq!(header(&r, "x-frugal-route"), "cloud");
    assert!(r.text().unwrap().contains("data: [DONE]"));
    assert_eq!(sim.requests().len(), 2);

    // Never for a local-only app, nor for frugal/local: the local answer, as it is.
    for (token, model) in [(&private, "frugal/auto"), (&app, "frugal/local")] {
        let r = post(&s, path, Some(token), &with_schema(model, 3, false));
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-frugal-route"), "local");
    }
    assert_eq!(sim.requests().len(), 2);

    // The cloud refuses (the app's cap is $0): the local answer is still handed out, with
    // what is wrong with it and why it stayed.
    let r = post(&s, path, Some(&capped), &with_schema("frugal/auto", 3, false));
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "local");
    let why = header(&r, "x-frugal-schema");
    assert!(why.contains("cut off") && why.contains("not sent to the cloud") && why.contains("budget"), "{why}");
    assert_eq!(json_of(r)["choices"][0]["finish_reason"], "length");
    assert_eq!(sim.requests().len(), 2);
    // Not cached (this app has the cache on): asked again, it is checked again.
    let r = post(&s, path, Some(&capped), &with_schema("frugal/auto", 3, false));
    assert_eq!((header(&r, "x-frugal-cache").as_str(), header(&r, "x-frugal-schema").is_empty()), ("", false));
    drop(s);
    // Every attempt is a settled row: 1 + 2×2 + 2, and the capped app's local row and the
    // cloud's refusal, twice.
    let all = rows(&env);
    assert_eq!(all.len(), 11, "{all:?}");
    assert!(all.iter().all(|r| r["state"] == "settled"), "{all:?}");
    assert_eq!(all.iter().filter(|r| r["route"] == "cloud" && r["outcome"] == "ok").count(), 2, "{all:?}");
    assert_eq!(all.iter().filter(|r| r["outcome"] == "refused").count(), 2, "{all:?}");
}
