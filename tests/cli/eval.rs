//! `frugal eval` and `frugal feedback` through the binary: suites on the real default model and
//! the simulated provider, the judge's cost apart, the cap holding, the cache, `--apply`, and
//! outcomes recorded in the real ledger.

use std::path::Path;

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;
use serde_json::Value;

use crate::harness::*;

const KEY: &str = "sk-test-eval";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/meetings/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A config with the simulated provider at the economy tier, at `price` dollars per million
/// tokens, under a `budget`.
fn sim_env(server: &SimServer, budget: f64, price: f64) -> Env {
    let env = Env::new();
    env.write_config(&format!(
        "[budget]\nmonthly_usd = {budget}\n\n[[providers]]\nname = \"sim\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"sim-small\"\nmax_retries = 0\n\n[[prices]]\nmodel = \"sim-small\"\ninput = {price}\noutput = {price}\n",
        server.base_url()
    ));
    env
}

/// The sim answers a judge with a verdict, a summary request with a grounded summary of the
/// stand-up, and anything else with the product of twelve and twelve.
fn answer_everything(server: &SimServer) {
    server.respond_with(|body| {
        let all = body["messages"].to_string();
        if all.contains("rubric") || all.contains("Rubric") {
            r#"{"pass": true, "score": 0.9, "reason": "it is a number"}"#.into()
        } else if body["response_format"].is_object() {
            r#"{"summary": "Maria Lopez, Tom Becker and Aisha Khan agreed to freeze the release branch on Friday.", "decisions": ["Freeze the release branch on Friday"], "action_items": [{"owner": "Tom Becker", "task": "Message Dana to rotate the staging credentials", "due": ""}], "open_questions": []}"#.into()
        } else {
            "12 times 12 is 144.".into()
        }
    });
}

fn write_suite(env: &Env, text: &str) -> String {
    let path = env.path("suite.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn eval(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd().env("FRUGAL_KEY_SIM", KEY).arg("--model").arg(model()).arg("eval").args(args).output().unwrap()
}

fn route<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["routes"].as_array().unwrap().iter().find(|r| r["route"] == name).unwrap_or_else(|| panic!("{report}"))
}

#[test]
fn suite_mistakes_are_one_line_naming_the_place_and_nothing_runs() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    let env = sim_env(&server, 5.0, 0.5);
    let chat = "tests:\n  - description: sum\n    vars: { task: chat, prompt: hi }\n    assert:\n";
    for (suite, args, want) in [
        (format!("{chat}      - {{ type: contain, value: x }}\n"), vec![], vec!["suite.yaml", "test 1", "contain"]),
        (
            "tests:\n  - vars: { task: summarize, file: nowhere.vtt }\n    assert: [{ type: contains, value: x }]\n"
                .into(),
            vec![],
            vec!["suite.yaml", "test 1", "vars.file"],
        ),
        (format!("{chat}      - {{ type: contains, value: [x }}\n"), vec![], vec!["suite.yaml", "line"]),
        (format!("{chat}      - {{ type: contains, value: x }}\n"), vec!["--routes", "local,nosuch"], vec!["nosuch"]),
        (format!("{chat}      - {{ type: regex, value: \"(\" }}\n"), vec![], vec!["test 1", "regex"]),
    ] {
        let path = write_suite(&env, &suite);
        let mut all = vec![path.as_str()];
        all.extend(args);
        let e = one_line_error(&eval(&env, &all));
        for w in want {
            assert!(e.contains(w), "{w:?} not in: {e}");
        }
    }
    let e = one_line_error(&eval(&env, &[env.path("missing.yaml").to_str().unwrap()]));
    assert!(e.contains("missing.yaml"), "{e}");
    assert!(server.requests().is_empty());
    assert_eq!(json(&env.run(&["spend", "--json"]))["requests"], 0, "nothing ran");
}

#[test]
fn a_suite_compares_local_and_economy_with_the_judge_apart_and_caches() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    answer_everything(&server);
    let env = sim_env(&server, 5.0, 0.5);
    let suite = write_suite(
        &env,
        &format!(
            "description: smoke\nproviders: [local, economy]\ntests:\n\
             \x20 - description: arithmetic\n    vars: {{ task: chat, prompt: \"What is 12 times 12?\" }}\n    assert:\n\
             \x20     - {{ type: contains, value: \"144\" }}\n\
             \x20     - {{ type: llm-rubric, value: \"The answer is a number\" }}\n\
             \x20 - description: standup\n    vars: {{ task: summarize, file: \"{}\" }}\n    assert:\n\
             \x20     - {{ type: owners-include, value: [Tom] }}\n\
             \x20     - {{ type: checks-pass }}\n\
             \x20     - {{ type: cost, threshold: 0.05 }}\n",
            fixture("standup.vtt")
        ),
    );
    // A dry run says what the cloud part could cost and sends nothing.
    let out = env
        .cmd()
        .env("FRUGAL_KEY_SIM", KEY)
        .arg("--model")
        .arg(model())
        .args(["--dry-run", "eval", &suite])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 cloud requests") && stderr(&out).contains("worst case $"), "{}", stderr(&out));
    assert!(server.requests().is_empty(), "a dry run sent something");

    let out = eval(&env, &[&suite, "--judge", "economy", "--json"]);
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    let economy = route(&report, "economy");
    assert_eq!((economy["tests"].as_u64(), economy["passed"].as_u64()), (Some(2), Some(2)), "{report}");
    let cost = economy["cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0 && (economy["cost_per_passed"].as_f64().unwrap() - cost / 2.0).abs() < 1e-9, "{economy}");
    assert_eq!(route(&report, "local")["tests"], 2);
    assert_eq!(route(&report, "local")["cost_usd"], 0.0);
    let judge = report["judge_cost_usd"].as_f64().unwrap();
    assert!(judge > 0.0, "the judge's cost is reported: {report}");
    // Each answer's grade says why; the judge's verdict is one of them.
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["cached"] == false));
    assert!(report.to_string().contains("it is a number"), "the judge's reason is shown");

    // Eval rows are ledger rows of task `eval`, labelled with the suite and test; the whole
    // spend (answers and judge) is in the ledger.
    let spend = json(&env.run(&["spend", "--json"]));
    let tasks: Vec<&str> = spend["by_task"].as_array().unwrap().iter().map(|t| t["task"].as_str().unwrap()).collect();
    assert_eq!(tasks, ["eval"], "{spend}");
    assert!((spend["spent_usd"].as_f64().unwrap() - (cost + judge)).abs() < 1e-6, "{spend}");
    let csv = stdout(&env.run(&["spend", "--csv"]));
    assert!(
        csv.contains("eval:suite#1:") && csv.contains("eval:suite#2:") && csv.contains("eval:suite#judge:"),
        "{csv}"
    );

    // Unchanged tests come from the cache: no answer is asked again, and the judge's grades of
    // unchanged answers are not paid for twice.
    let before = server.requests().len();
    let again: Value = serde_json::from_str(&ok(&eval(&env, &[&suite, "--judge", "economy", "--json"]))).unwrap();
    assert!(again["results"].as_array().unwrap().iter().all(|r| r["cached"] == true), "{again}");
    assert_eq!(server.requests().len(), before, "nothing went out");
    assert_eq!(again["judge_cost_usd"].as_f64(), Some(0.0), "{again}");
    assert_eq!(route(&again, "economy")["passed"], economy["passed"], "the cached grades are the same grades");

    // The cheapest route that passes everything becomes the tasks' policy.
    let out = eval(&env, &[&suite, "--judge", "economy", "--target", "1", "--apply"]);
    let text = ok(&out);
    assert!(text.contains("chat:") && text.contains("summarize:"), "{text}");
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(config.contains("[policy.chat]") && config.contains("[policy.summarize]"), "{config}");
    assert!(stderr(&out).contains("[policy.summarize] now takes the"), "{}", stderr(&out));
}

#[test]
fn the_cap_holds_during_an_eval_and_refusals_fail_their_tests() {
    let server = SimServer::start(Kind::OpenAi).unwrap();
    answer_everything(&server);
    // $1,000 per million tokens under a 1-cent cap: no request fits its worst case.
    let env = sim_env(&server, 0.01, 1000.0);
    let suite = write_suite(
        &env,
        "providers: [economy]\ntests:\n  - vars: { task: chat, prompt: \"What is 12 times 12?\" }\n    assert: [{ type: contains, value: \"144\" }]\n  - vars: { task: chat, prompt: \"And 13 times 13?\" }\n    assert: [{ type: contains, value: \"169\" }]\n",
    );
    let report: Value = serde_json::from_str(&ok(&eval(&env, &[&suite, "--json"]))).unwrap();
    let economy = route(&report, "economy");
    assert_eq!((economy["passed"].as_u64(), economy["errors"].as_u64()), (Some(0), Some(2)), "{report}");
    let errors: Vec<&str> =
        report["results"].as_array().unwrap().iter().filter_map(|r| r["outcome"]["error"].as_str()).collect();
    assert!(errors.iter().all(|e| e.contains("cap") || e.contains("budget")), "{errors:?}");
    assert!(server.requests().is_empty(), "a refused request went out");
    let spend = json(&env.run(&["spend", "--json"]));
    assert!(spend["spent_usd"].as_f64().unwrap() <= 0.01);
    assert_eq!(spend["refused"], 2);
}

#[test]
fn feedback_is_recorded_and_priced_as_useful_outcomes() {
    let env = Env::new();
    let out = env.run_model(&["--local-only", "chat", "--json", "--max-tokens", "4", "Say hi"]);
    let run_id = json(&out)["run_id"].as_str().unwrap().to_string();
    assert!(!run_id.is_empty());
    let out = env.run(&["feedback", &run_id, "good", "--note", "short and right"]);
    assert!(out.status.success() && stderr(&out).contains("recorded \"good\""), "{}", stderr(&out));
    let spend = json(&env.run(&["spend", "--json"]));
    let o = &spend["outcomes"];
    assert_eq!((o["rated_runs"].as_u64(), o["useful"].as_u64()), (Some(1), Some(1)), "{spend}");
    assert_eq!(o["cost_per_useful_usd"], 0.0);
    assert_eq!(o["local_share_of_useful"], 1.0);
    assert!(stdout(&env.run(&["spend"])).contains("useful answers: 1 of 1"));
    // Changed mind: the last word counts.
    ok(&env.run(&["feedback", &run_id, "bad"]));
    assert_eq!(json(&env.run(&["spend", "--json"]))["outcomes"]["useful"], 0);

    let e = one_line_error(&env.run(&["feedback", "no-such-run", "good"]));
    assert!(e.contains("no answer with run id \"no-such-run\""), "{e}");
    let e = one_line_error(&env.run(&["feedback", &run_id, "great"]));
    assert!(e.contains("great"), "{e}");
}

#[test]
fn the_projects_example_suite_loads_and_prices_nothing_locally() {
    let env = Env::new();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("evals/fixtures.yaml");
    let out = env.cmd().arg("--model").arg(model()).args(["--dry-run", "eval"]).arg(&suite).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("8 tests × 1 routes; 0 cloud requests"), "{}", stderr(&out));
}
