//! The gateway's response cache, CORS and spend by app, through real HTTP against the real
//! binary: a repeatable request asked again by the same app is answered at $0 without the
//! upstream (streamed or not), never across apps, never for an app with the cache off, and
//! recorded in the ledger with what it saved; browsers are refused unless an origin is
//! configured; local requests say how long they queued for the engine.

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use serde_json::{json, Value};

use crate::gateway::{add_app, client, gateway_env, gateway_env_with, header, json_of, post, serve};
use crate::harness::{json as json_out, ok, one_line_error};

fn ask(temperature: f64, seed: Option<u32>, model: &str) -> Value {
    let mut body = json!({
        "model": model, "max_tokens": 40, "temperature": temperature,
        "messages": [{ "role": "user", "content": "Name three colours." }],
    });
    if let Some(s) = seed {
        body["seed"] = json!(s);
    }
    body
}

/// The cache rows' app, model and reference cost, straight from the ledger.
fn cache_rows(env: &crate::harness::Env) -> Vec<(String, String, i64, i64)> {
    let db = rusqlite::Connection::open(env.path("xdg-data/frugal/ledger.sqlite3")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT app, model, cost_micros, reference_cost_micros FROM requests WHERE provider = 'cache' ORDER BY id",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<i64>>(3)?.unwrap_or(-1))));
    rows.unwrap().map(Result::unwrap).collect()
}

#[test]
fn repeatable_requests_are_answered_from_the_cache_per_app_and_recorded() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let a = add_app(&env, &["alpha"]);
    let b = add_app(&env, &["beta"]);
    let c = add_app(&env, &["gamma", "--no-cache"]);
    assert!(ok(&env.run(&["apps", "list"])).contains("no cache"));
    let s = serve(&env);
    let path = "/v1/chat/completions";

    // A cloud answer at temperature 0: a miss, then a hit that never reaches the provider.
    let first = post(&s, path, Some(&a), &ask(0.0, None, "frugal/economy"));
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-frugal-cache"), "miss");
    assert_eq!(header(&first, "x-frugal-route"), "cloud");
    let cost: f64 = header(&first, "x-frugal-cost-usd").parse().unwrap();
    assert!(cost > 0.0);
    let first = json_of(first);
    assert_eq!(sim.requests().len(), 1);
    let again = post(&s, path, Some(&a), &ask(0.0, None, "frugal/economy"));
    assert_eq!(header(&again, "x-frugal-cache"), "hit");
    assert_eq!(header(&again, "x-frugal-cost-usd"), "0.000000");
    let again = json_of(again);
    assert_eq!(again["choices"][0]["message"], first["choices"][0]["message"]);
    assert_eq!(again["usage"], first["usage"]);
    assert_eq!(sim.requests().len(), 1, "a hit sends nothing upstream");

    // The same request streamed is the same request: replayed as a stream.
    let mut streamed = ask(0.0, None, "frugal/economy");
    streamed["stream"] = json!(true);
    let r = post(&s, path, Some(&a), &streamed);
    assert_eq!(header(&r, "x-frugal-cache"), "hit");
    let text = r.text().unwrap();
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|l| *l != "[DONE]")
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(content, first["choices"][0]["message"]["content"].as_str().unwrap());
    assert!(text.contains("x-frugal-cache=hit"), "{text}");
    assert_eq!(sim.requests().len(), 1);

    // Never across apps; never for an app with the cache off; never for a sampled request.
    assert_eq!(header(&post(&s, path, Some(&b), &ask(0.0, None, "frugal/economy")), "x-frugal-cache"), "miss");
    assert_eq!(sim.requests().len(), 2);
    for _ in 0..2 {
        assert_eq!(header(&post(&s, path, Some(&c), &ask(0.0, None, "frugal/economy")), "x-frugal-cache"), "");
    }
    assert_eq!(sim.requests().len(), 4);
    for _ in 0..2 {
        assert_eq!(header(&post(&s, path, Some(&a), &ask(0.9, None, "frugal/economy")), "x-frugal-cache"), "");
    }
    assert_eq!(sim.requests().len(), 6);
    // A fixed seed makes a sampled request repeatable.
    assert_eq!(header(&post(&s, path, Some(&a), &ask(0.9, Some(7), "frugal/economy")), "x-frugal-cache"), "miss");
    assert_eq!(header(&post(&s, path, Some(&a), &ask(0.9, Some(7), "frugal/economy")), "x-frugal-cache"), "hit");
    assert_eq!(sim.requests().len(), 7);

    // A local answer is cached too, and Anthropic's protocol reads the same cache.
    assert_eq!(header(&post(&s, path, Some(&a), &ask(0.0, None, "frugal/local")), "x-frugal-cache"), "miss");
    let hit = post(&s, path, Some(&a), &ask(0.0, None, "frugal/local"));
    assert_eq!(header(&hit, "x-frugal-cache"), "hit");
    let anthropic = client()
        .post(format!("{}/v1/messages", s.base))
        .header("x-api-key", &a)
        .header("content-type", "application/json")
        .body(
            json!({ "model": "frugal/local", "max_tokens": 40, "temperature": 0,
                    "messages": [{ "role": "user", "content": "Name three colours." }] })
            .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(header(&anthropic, "x-frugal-cache"), "hit");
    let anthropic = json_of(anthropic);
    assert_eq!(anthropic["content"][0]["text"], json_of(hit)["choices"][0]["message"]["content"]);

    // Turned off for an app: its next repeat goes upstream again.
    ok(&env.run(&["apps", "cache", "alpha", "off"]));
    assert_eq!(header(&post(&s, path, Some(&a), &ask(0.0, None, "frugal/economy")), "x-frugal-cache"), "");
    assert_eq!(sim.requests().len(), 8);
    drop(s);

    // The ledger: a $0 local row per hit, for its app, with what it saved — the cloud
    // answer's own cost for a cloud answer.
    let hits = cache_rows(&env);
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert!(hits.iter().all(|(app, _, cost, _)| app == "alpha" && *cost == 0), "{hits:?}");
    let cloud_cost = (cost * 1e6).round() as i64;
    assert_eq!((hits[0].1.as_str(), hits[0].3), ("sim-small", cloud_cost), "{hits:?}");

    // Spend by app, in the report and the table.
    let report = json_out(&env.run(&["--json", "spend"]));
    let by_app = report["by_app"].as_array().unwrap();
    let of = |name: &str| by_app.iter().find(|x| x["app"] == name).unwrap_or_else(|| panic!("{by_app:?}"));
    assert_eq!(of("alpha")["requests"], 11, "{by_app:?}");
    assert_eq!(of("gamma")["requests"], 2);
    assert!(of("alpha")["saved_micros"].as_i64().unwrap() >= cloud_cost * 2, "{by_app:?}");
    let table = ok(&env.run(&["spend"]));
    assert!(table.contains("alpha") && table.contains("gamma") && table.contains("saved"), "{table}");
    let csv = ok(&env.run(&["spend", "--csv"]));
    assert!(csv.lines().next().unwrap().contains("app") && csv.contains("alpha"), "{csv}");
}

#[test]
fn browsers_are_refused_unless_an_origin_is_configured() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let preflight = |base: &str, origin: &str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{base}/v1/chat/completions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,x-stainless-os")
            .send()
            .unwrap()
    };
    // Off by default: no page may call.
    let env = gateway_env(&sim);
    let s = serve(&env);
    let r = preflight(&s.base, "http://localhost:3000");
    assert!(r.headers().get("access-control-allow-origin").is_none(), "{:?}", r.headers());
    drop(s);

    let env = gateway_env_with(&sim, "[gateway]\ncors_origins = [\"http://localhost:3000\"]\n");
    let token = add_app(&env, &["webui"]);
    let s = serve(&env);
    let r = preflight(&s.base, "http://localhost:3000");
    assert_eq!(header(&r, "access-control-allow-origin"), "http://localhost:3000");
    assert!(header(&r, "access-control-allow-headers").contains("x-stainless-os"), "{:?}", r.headers());
    let r = preflight(&s.base, "http://evil.example");
    assert!(r.headers().get("access-control-allow-origin").is_none(), "{:?}", r.headers());
    // An allowed page reads Frugal's headers.
    let r = client()
        .post(format!("{}/v1/chat/completions", s.base))
        .header("origin", "http://localhost:3000")
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            json!({ "model": "frugal/local", "max_tokens": 8, "messages": [{ "role": "user", "content": "Hi." }] })
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "access-control-expose-headers").contains("x-frugal-route"), "{:?}", r.headers());
    drop(s);

    // A mistyped origin is one line naming the setting, before anything serves.
    let bad = gateway_env_with(&sim, "[gateway]\ncors_origins = [\"localhost:3000/app\"]\n");
    let e = one_line_error(&bad.run(&["serve"]));
    assert!(e.contains("gateway.cors_origins"), "{e}");
}

/// The local engine has one worker: concurrent local requests queue, and each answer says
/// how long it waited (`x-frugal-queue-ms`), the last in line longest.
#[test]
fn local_requests_report_their_queue_time() {
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    let env = gateway_env(&sim);
    let token = add_app(&env, &["queue"]);
    let s = serve(&env);
    let body = json!({ "model": "frugal/local", "max_tokens": 48, "temperature": 0.8,
                       "messages": [{ "role": "user", "content": "Write a sentence about rivers." }] });
    let waits: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let r = post(&s, "/v1/chat/completions", Some(&token), &body);
                    assert_eq!(r.status(), 200);
                    assert_eq!(header(&r, "x-frugal-route"), "local");
                    header(&r, "x-frugal-queue-ms").parse::<u64>().expect("x-frugal-queue-ms on a local answer")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let longest = waits.iter().max().copied().unwrap();
    // The last in line waited for at least one whole answer ahead of it.
    assert!(longest >= 20, "{waits:?}");
    // A cloud answer has no local queue.
    let r = post(
        &s,
        "/v1/chat/completions",
        Some(&token),
        &json!({ "model": "frugal/economy", "max_tokens": 20,
        "messages": [{ "role": "user", "content": "Hi." }] }),
    );
    assert_eq!(header(&r, "x-frugal-queue-ms"), "");
}
