//! `frugal serve` through real HTTP: the real binary on the real default model, the
//! simulated provider as the cloud, the real ledger. Protocol shapes, apps and tokens, caps
//! and their 429s, privacy, bad input. The official SDKs' tests are in `gateway_sdk`.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use serde_json::{json, Value};

use crate::harness::{json as json_out, ok, Env};

pub const CANARY: &str = "canary-7f3e1b2a-private-text";

/// A running `frugal serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An environment with the simulated provider `sim` (economy) and a $5 budget.
pub fn gateway_env(server: &SimServer) -> Env {
    gateway_env_with(server, "")
}

/// The same with more config (a policy) before the provider.
pub fn gateway_env_with(server: &SimServer, extra: &str) -> Env {
    let env = Env::new();
    env.write_config(&format!(
        "{extra}\n[budget]\nmonthly_usd = 5.0\n\n[[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nmax_retries = 0\n\n[[prices]]\nmodel = \"sim-small\"\ninput = 0.5\noutput = 1.5\n",
        server.base_url()
    ));
    env
}

/// Adds an app and returns its token.
pub fn add_app(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["apps", "add"];
    all.extend_from_slice(args);
    let token = ok(&env.run(&all)).trim().to_string();
    assert!(token.starts_with("frugal-") && token.len() > 60, "{token}");
    token
}

/// Starts `frugal serve` on a free port and waits until it answers.
pub fn serve(env: &Env) -> Serve {
    let port = free_port();
    let m = crate::harness::model();
    let child = env
        .cmd()
        .env("FRUGAL_KEY_SIM", "sk-sim-key")
        .arg("--model")
        .arg(m)
        .args(["serve", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let s = Serve { child, base };
    let http = client();
    let start = Instant::now();
    while http.get(format!("{}/health", s.base)).send().is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "frugal serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(300)).no_proxy().build().unwrap()
}

pub fn post(s: &Serve, path: &str, token: Option<&str>, body: &Value) -> reqwest::blocking::Response {
    let mut r = client().post(format!("{}{path}", s.base)).header("content-type", "application/json");
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.body(body.to_string()).send().unwrap()
}

pub fn json_of(r: reqwest::blocking::Response) -> Value {
    let text = r.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn header(r: &reqwest::blocking::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Every ledger row, read straight from the SQLite file.
pub fn rows(env: &Env) -> Vec<Value> {
    let db = rusqlite::Connection::open(env.path("xdg-data/frugal/ledger.sqlite3")).unwrap();
    let mut stmt =
        db.prepare("SELECT app, task, route, state, outcome, cost_micros FROM requests ORDER BY id").unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(json!({
                "app": r.get::<_, Option<String>>(0)?, "task": r.get::<_, String>(1)?, "route": r.get::<_, String>(2)?,
                "state": r.get::<_, String>(3)?, "outcome": r.get::<_, Option<String>>(4)?, "cost_micros": r.get::<_, i64>(5)?,
            }))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn both_protocols_answer_locally_and_from_the_cloud_metered_per_app() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let token = add_app(&env, &["tester", "--monthly-usd", "1"]);
    let s = serve(&env);

    // Models: Frugal's routes and the configured provider's model.
    let models: Value = client()
        .get(format!("{}/v1/models", s.base))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap()
        .parse::<Value>()
        .unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
    // No premium provider is configured, so frugal/premium is not offered.
    assert_eq!(ids, ["frugal/auto", "frugal/local", "frugal/economy", "sim/sim-small"]);

    // OpenAI, local, not streamed.
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({
            "model": "frugal/local", "max_tokens": 24, "temperature": 0, "seed": 1,
            "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "Say hello." }],
        }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "local");
    assert!(!header(&r, "x-frugal-run-id").is_empty());
    assert_eq!(header(&r, "x-frugal-cost-usd"), "0.000000");
    let v: Value = json_of(r);
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"].as_str().unwrap().is_empty(), "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");

    // OpenAI, the cloud through the economy route, streamed with the usage chunk.
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({
            "model": "frugal/economy", "max_tokens": 400, "stream": true, "stream_options": { "include_usage": true },
            "messages": [{ "role": "user", "content": [{ "type": "text", "text": "Say hello." }] }],
        }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "cloud");
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let said: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!said.is_empty(), "{text}");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"), "{text}");
    let usage = chunks.iter().find(|c| c["usage"].is_object()).expect("the usage chunk");
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let comment = text.lines().find(|l| l.starts_with(": x-frugal-route=cloud")).expect("the served comment");
    let cost: f64 = comment.split("x-frugal-cost-usd=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(cost > 0.0, "{comment}");

    // Anthropic, cloud, not streamed; then local, streamed.
    let r = post(
        &s,
        "/v1/messages",
        Some(&token),
        &json!({
            "model": "sim/sim-small", "max_tokens": 400, "system": "Be brief.",
            "messages": [{ "role": "user", "content": "Say hello." }],
        }),
    );
    assert_eq!(r.status(), 200);
    let v: Value = json_of(r);
    assert_eq!((v["type"].as_str(), v["role"].as_str()), (Some("message"), Some("assistant")), "{v}");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["stop_reason"], "end_turn");
    let r = post(
        &s,
        "/v1/messages",
        Some(&token),
        &json!({
            "model": "frugal/local", "max_tokens": 16, "stream": true,
            "messages": [{ "role": "user", "content": "Count to three." }],
        }),
    );
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"message_start"), "{text}");
    assert!(events.contains(&"content_block_delta"), "{text}");
    assert_eq!(events.last(), Some(&"message_stop"), "{text}");
    let r = post(
        &s,
        "/v1/messages/count_tokens",
        Some(&token),
        &json!({
            "model": "frugal/local", "messages": [{ "role": "user", "content": "Count to three." }],
        }),
    );
    assert!(json_of(r)["input_tokens"].as_u64().unwrap() > 2);

    // Every request is one ledger row of this app, none pending; the cloud ones cost money.
    drop(s);
    let rows = rows(&env);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r["app"] == "tester" && r["task"] == "gateway" && r["state"] == "settled"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["route"] == "cloud").count(), 2);
    let spend = json_out(&env.run(&["--json", "apps", "list"]));
    assert!(spend[0]["spent_micros"].as_i64().unwrap() > 0, "{spend}");
    assert_eq!(spend[0]["requests"], 4);
}

/// What clients send that the providers take: no `max_tokens` (a ceiling long enough for a
/// code edit, not 1,024), `stream: null`, an empty `Bearer` beside a good `x-api-key`; and
/// counting tokens on an idle server does not load the local model to do it.
#[test]
fn lenient_requests_are_taken_as_the_providers_take_them() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let token = add_app(&env, &["editor"]);
    let s = serve(&env);
    let rss_kb = |s: &Serve| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let idle = rss_kb(&s);
    let r = post(
        &s,
        "/v1/messages/count_tokens",
        Some(&token),
        &json!({ "model": "frugal/local", "messages": [{ "role": "user", "content": "Count to three, slowly." }] }),
    );
    assert_eq!(r.status(), 200);
    assert!(json_of(r)["input_tokens"].as_u64().unwrap() >= 4);
    // The default model and its context take well over 100 MB once loaded.
    let after = rss_kb(&s);
    assert!(after < idle + 50_000, "counting loaded the model: {idle} kB → {after} kB");

    let r = client()
        .post(format!("{}/v1/chat/completions", s.base))
        .header("authorization", "Bearer ")
        .header("x-api-key", &token)
        .header("content-type", "application/json")
        .body(
            json!({ "model": "frugal/economy", "stream": null, "stream_options": null,
                    "messages": [{ "role": "user", "content": "Rewrite this function." }] })
            .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r)["object"], "chat.completion");
    let sent: Value = serde_json::from_str(&sim.requests()[0].body).unwrap();
    assert_eq!(sent["max_tokens"], 4096, "{sent}");
}

#[test]
fn tokens_caps_privacy_and_bad_input_get_each_protocols_error() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    // frugal/auto goes to the cloud for every chat here, so the privacy checks below would
    // fail if a private request or a local-only app could follow it.
    let env = gateway_env_with(&sim, "[policy.chat]\nescalate = \"always\"\n");
    let token = add_app(&env, &["capped", "--monthly-usd", "0.01"]);
    let local = add_app(&env, &["offline", "--local-only"]);
    let narrow = add_app(&env, &["narrow", "--models", "frugal/local"]);
    let s = serve(&env);
    let hello =
        |model: &str| json!({ "model": model, "max_tokens": 8, "messages": [{ "role": "user", "content": "hi" }] });

    // No token, an unknown one: 401 in each shape, naming no token.
    let r = post(&s, "/v1/chat/completions", None, &hello("frugal/local"));
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r)["error"]["type"], "authentication_error");
    let r = client()
        .post(format!("{}/v1/messages", s.base))
        .header("x-api-key", "frugal-not-a-real-token")
        .header("content-type", "application/json")
        .body(hello("frugal/local").to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.text().unwrap();
    assert!(body.contains("\"authentication_error\"") && !body.contains("frugal-not-a-real-token"), "{body}");

    // The app's cap: a request whose worst case is over $0.01 is refused before it is sent.
    let before = sim.requests().len();
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({
            "model": "frugal/economy", "max_tokens": 100000, "messages": [{ "role": "user", "content": "hi" }],
        }),
    );
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-should-retry"), "false");
    assert!(header(&r, "retry-after").parse::<u64>().unwrap() > 0);
    let v: Value = json_of(r);
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("insufficient_quota"), Some("budget_exceeded"))
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("app's monthly budget of $0.01"), "{v}");
    let r = post(
        &s,
        "/v1/messages",
        Some(&token),
        &json!({
            "model": "frugal/economy", "max_tokens": 100000, "messages": [{ "role": "user", "content": "hi" }],
        }),
    );
    assert_eq!(r.status(), 429);
    assert_eq!(json_of(r)["error"]["type"], "rate_limit_error");
    assert_eq!(sim.requests().len(), before, "nothing refused reached the provider");

    // Privacy: a local-only app and a private request never reach a cloud.
    let r = post(&s, "/v1/chat/completions", Some(&token), &hello("frugal/auto"));
    assert_eq!((r.status().as_u16(), header(&r, "x-frugal-route")), (200, "cloud".into()), "the policy sends auto out");
    let r = post(&s, "/v1/chat/completions", Some(&local), &hello("frugal/economy"));
    assert_eq!(r.status(), 403);
    let listed = json_of(client().get(format!("{}/v1/models", s.base)).bearer_auth(&local).send().unwrap());
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["frugal/auto", "frugal/local"], "a local-only app is offered no cloud model");
    let canary = json!({ "model": "frugal/auto", "max_tokens": 8, "messages": [{ "role": "user", "content": format!("Repeat {CANARY}") }] });
    for value in ["1", "TRUE", "yes"] {
        let r = client()
            .post(format!("{}/v1/chat/completions", s.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("x-frugal-private", value)
            .body(canary.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let v = json_of(r);
        assert_eq!(status, 400, "x-frugal-private: {value}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("not sent to a cloud"), "{v}");
    }
    let r = client()
        .post(format!("{}/v1/chat/completions", s.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("x-frugal-private", "1")
        .body(hello("sim/sim-small").to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&local),
        &json!({
            "model": "frugal/auto", "max_tokens": 8, "messages": [{ "role": "user", "content": format!("Repeat {CANARY}") }],
        }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-frugal-route"), "local");
    assert!(sim.requests().iter().all(|q| !q.body.contains(CANARY)), "the canary reached the provider");
    let r = post(&s, "/v1/chat/completions", Some(&narrow), &hello("frugal/auto"));
    assert_eq!(r.status(), 403, "a model outside the app's list");

    // Bad input: one line in the protocol's shape, and nothing in the ledger.
    let rows_before = rows(&env).len();
    let cases: Vec<(&str, Option<&str>, String, u16)> = vec![
        ("/v1/chat/completions", Some("application/json"), "{\"model\": ".into(), 400),
        ("/v1/chat/completions", Some("text/plain"), hello("frugal/local").to_string(), 400),
        ("/v1/chat/completions", Some("application/json"), hello("nobody/none").to_string(), 404),
        ("/v1/chat/completions", Some("application/json"), json!({ "model": "frugal/local", "messages": [{ "role": "wizard", "content": "hi" }] }).to_string(), 400),
        ("/v1/chat/completions", Some("application/json"), json!({ "model": "frugal/local", "max_tokens": -5, "messages": [{ "role": "user", "content": "hi" }] }).to_string(), 400),
        ("/v1/chat/completions", Some("application/json"), json!({ "model": "frugal/local", "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "x" } }] }] }).to_string(), 400),
        ("/v1/chat/completions", Some("application/json"), json!({ "model": "frugal/local", "messages": [{ "role": "user", "content": "hi" }], "tools": [{ "type": "function" }] }).to_string(), 400),
        ("/v1/messages", Some("application/json"), json!({ "model": "frugal/local", "messages": [{ "role": "user", "content": "hi" }] }).to_string(), 400),
        ("/v1/messages", Some("application/json"), json!({ "model": "frugal/local", "max_tokens": 5, "messages": [{ "role": "system", "content": "hi" }] }).to_string(), 400),
        ("/v1/messages", Some("application/json"), "{\"model\": [".into(), 400),
        ("/v1/messages", Some("application/json"), json!({ "model": "frugal/local", "max_tokens": -1, "messages": [{ "role": "user", "content": "hi" }] }).to_string(), 400),
        ("/v1/messages", Some("application/json"), json!({ "model": "frugal/local", "max_tokens": 5, "messages": [{ "role": "user", "content": [{ "type": "image", "source": {} }] }] }).to_string(), 400),
        ("/v1/messages/count_tokens", Some("application/json"), json!({ "model": "nobody/none", "messages": [{ "role": "user", "content": "hi" }] }).to_string(), 404),
    ];
    for (path, ctype, body, status) in cases {
        let mut r = client().post(format!("{}{path}", s.base)).bearer_auth(&token);
        if let Some(c) = ctype {
            r = r.header("content-type", c);
        }
        let r = r.body(body.clone()).send().unwrap();
        assert_eq!(r.status().as_u16(), status, "{path} {body}");
        let v: Value = json_of(r);
        if path == "/v1/messages" {
            assert_eq!(v["type"], "error", "{v}");
        }
        let m = v["error"]["message"].as_str().unwrap_or_else(|| panic!("no message: {v}"));
        assert!(!m.contains('\n') && !m.is_empty(), "{m}");
    }
    // A body over the limit and 10,000 messages: refused, never a crash.
    let huge = json!({ "model": "frugal/local", "messages": [{ "role": "user", "content": "x".repeat(9 << 20) }] });
    // The server may answer 413 before it has read the whole body and close the connection
    // while the client still sends: a reset is also a refusal; the server must live on.
    let r = client()
        .post(format!("{}/v1/chat/completions", s.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge.to_string())
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
        assert!(json_of(r)["error"]["message"].as_str().unwrap().contains("over the gateway's limit"));
    }
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({ "role": if i % 2 == 0 { "user" } else { "assistant" }, "content": "hello there" }))
        .collect();
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({ "model": "frugal/local", "max_tokens": 8, "messages": many }),
    );
    assert_eq!(r.status(), 400, "too long for the local context");
    assert!(json_of(r)["error"]["message"].as_str().unwrap().len() > 10);
    let r = client().get(format!("{}/v2/nothing", s.base)).send().unwrap();
    assert_eq!(r.status(), 404);
    // The server is still up after all of it.
    assert_eq!(client().get(format!("{}/health", s.base)).send().unwrap().status(), 200);
    drop(s);
    let after = rows(&env);
    assert!(after.iter().all(|r| r["state"] == "settled"), "{after:?}");
    // Bad input and the 10,000 messages (refused before anything ran) wrote no row.
    assert_eq!(after.len(), rows_before, "{after:?}");
}

/// A client that goes away mid-stream is charged what was used (never $0) and stops the
/// upstream; a server killed mid-stream leaves a row the next start settles.
#[test]
fn a_client_gone_mid_stream_and_a_killed_server_both_leave_settled_rows() {
    use std::io::Read;
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    sim.set_token_delay(Duration::from_millis(40));
    let env = gateway_env(&sim);
    let token = add_app(&env, &["streamer"]);
    let body = json!({ "model": "frugal/economy", "max_tokens": 400, "stream": true, "messages": [{ "role": "user", "content": "Count." }] });
    let mut s = serve(&env);
    let mut r = post(&s, "/v1/chat/completions", Some(&token), &body);
    let mut first = [0u8; 64];
    r.read_exact(&mut first).unwrap();
    drop(r);
    // The upstream stops being read and the row settles with the cost of what streamed.
    let start = Instant::now();
    while !rows(&env).iter().all(|r| r["state"] == "settled") {
        assert!(start.elapsed() < Duration::from_secs(20), "the abandoned stream never settled: {:?}", rows(&env));
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone = rows(&env);
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(gone[0]["cost_micros"].as_i64().unwrap() > 0, "charged what was used, never $0: {gone:?}");

    // kill -9 mid-stream: the row stays pending until a new process settles it.
    let mut r = post(&s, "/v1/chat/completions", Some(&token), &body);
    r.read_exact(&mut first).unwrap();
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let killed = rows(&env);
    assert_eq!(killed.iter().filter(|r| r["state"] == "pending").count(), 1, "{killed:?}");
    drop(s);
    let mut s = serve(&env);
    let after = rows(&env);
    assert!(after.iter().all(|r| r["state"] == "settled"), "{after:?}");
    assert!(after[1]["cost_micros"].as_i64().unwrap() > 0, "the interrupted request is charged: {after:?}");

    // SIGTERM waits for the answer in flight (16 s here); a second one stops at once, and
    // the answer is charged all the same.
    let mut r = post(&s, "/v1/chat/completions", Some(&token), &body);
    r.read_exact(&mut first).unwrap();
    let pid = s.child.id().to_string();
    let term = || assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    term();
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.child.try_wait().unwrap().is_none(), "the first SIGTERM must let the answer finish");
    term();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "a second SIGTERM must stop the server at once");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "stopping with an answer unfinished is a failure exit");
    drop(r);
    drop(s);
    let s = serve(&env);
    let last = rows(&env);
    assert_eq!(last.len(), 3, "{last:?}");
    assert!(last.iter().all(|r| r["state"] == "settled"), "{last:?}");
    assert!(last[2]["cost_micros"].as_i64().unwrap() > 0, "the cut answer is charged: {last:?}");
    drop(s);
}

/// 200 requests at once from 5 apps against small caps: no cap is crossed, globally or per
/// app, and every request is exactly one settled ledger row (answered or refused).
#[test]
fn two_hundred_concurrent_requests_from_five_apps_never_cross_a_cap() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    sim.set_token_delay(Duration::from_millis(1));
    let env = Env::new();
    env.write_config(&format!(
        "[budget]\nmonthly_usd = 0.03\n\n[[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nmax_retries = 0\n\n[[prices]]\nmodel = \"sim-small\"\ninput = 0.5\noutput = 1.5\n",
        sim.base_url()
    ));
    let tokens: Vec<String> = (0..5).map(|i| add_app(&env, &[&format!("app{i}"), "--monthly-usd", "0.01"])).collect();
    let s = serve(&env);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let (token, base) = (tokens[i % 5].clone(), s.base.clone());
                scope.spawn(move || {
                    let body = json!({ "model": "frugal/economy", "max_tokens": 2000, "messages": [{ "role": "user", "content": "Count." }] });
                    client()
                        .post(format!("{base}/v1/chat/completions"))
                        .bearer_auth(token)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    let (ok, refused) =
        (statuses.iter().filter(|s| **s == 200).count(), statuses.iter().filter(|s| **s == 429).count());
    assert!(ok > 0 && refused > 0, "the caps should both admit and refuse: {ok} answered, {refused} refused");
    drop(s);
    let all = rows(&env);
    assert_eq!(all.len(), 200, "exactly one row per request");
    assert!(all.iter().all(|r| r["state"] == "settled"), "none pending");
    assert_eq!(all.iter().filter(|r| r["outcome"] == "refused").count(), refused);
    let spent = |app: Option<&str>| -> i64 {
        all.iter()
            .filter(|r| app.is_none() || r["app"].as_str() == app)
            .map(|r| r["cost_micros"].as_i64().unwrap())
            .sum()
    };
    assert!(spent(None) <= 30_000, "the global cap: {}", spent(None));
    for i in 0..5 {
        let name = format!("app{i}");
        assert!(spent(Some(&name)) <= 10_000, "{name}'s cap: {}", spent(Some(&name)));
    }
}
