//! The cloud's cost levers through the real binary: `summarize --batch`, `frugal batches`
//! (list, poll, cancel) and `frugal spend`'s savings, against the simulated provider's batch
//! API and prompt cache, with the real SQLite ledger.

use frugal_cloud::sim::SimServer;
use frugal_cloud::Kind;

use crate::harness::{json, ok, one_line_error, stderr, Env};

const SUMMARY: &str = r#"{"summary": "Ana and Bo agreed to ship the launch on Friday after the vendor review.", "decisions": ["Ship on Friday."], "action_items": [], "open_questions": []}"#;

fn env_for(server: &SimServer) -> Env {
    let env = Env::new();
    env.write_config(&format!(
        "[budget]\nmonthly_usd = 5.0\n[[providers]]\nname = \"anthropic\"\nkind = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-sonnet-4-0\"\nneeds_key = false\nmax_retries = 0\n",
        server.base_url()
    ));
    std::fs::write(
        env.path("standup.txt"),
        "Ana: The vendor review is done, we can ship the launch on Friday.\nBo: Agreed, Friday it is.\n",
    )
    .unwrap();
    env
}

#[test]
fn a_batched_summary_comes_back_through_frugal_batches_at_half_price() {
    let server = SimServer::start(Kind::Anthropic).unwrap();
    server.respond_with(|_| SUMMARY.into());
    let env = env_for(&server);
    let meeting = env.path("standup.txt");
    let out = env.run(&["summarize", "--cloud", "--batch", meeting.to_str().unwrap()]);
    let said = stderr(&out);
    assert!(out.status.success() && said.contains("queued as batch 1 at anthropic"), "{said}");
    assert!(said.contains("standup.summary.md"), "{said}");
    assert!(!env.path("standup.summary.md").exists(), "nothing until the batch is back");
    // Listing polls first: the batch ends, its row settles at the batch price, the summary lands.
    let list = env.run(&["batches"]);
    assert!(stderr(&list).contains("summary written to"), "{}", stderr(&list));
    assert!(ok(&list).contains("ended"), "{}", ok(&list));
    let summary = std::fs::read_to_string(env.path("standup.summary.md")).unwrap();
    assert!(summary.contains("Friday"), "{summary}");
    let spend = json(&env.run(&["spend", "--json"]));
    assert_eq!(spend["levers"]["batch_requests"], 1);
    let (cost, saved) = (spend["spent_usd"].as_f64().unwrap(), spend["levers"]["batch_micros"].as_i64().unwrap());
    assert!(cost > 0.0 && saved > 0, "{spend}");
    assert!((saved - (cost * 1e6).round() as i64).abs() <= 2, "half price: saved {saved} of {cost}");
    assert!(ok(&env.run(&["spend"])).contains("batch discount"));
}

#[test]
fn a_pending_batch_is_listed_with_its_reservation_and_can_be_cancelled() {
    let server = SimServer::start(Kind::Anthropic).unwrap();
    server.respond_with(|_| SUMMARY.into());
    server.set_batch_polls(50);
    let env = env_for(&server);
    let meeting = env.path("standup.txt");
    ok(&env.run(&["summarize", "--cloud", "--batch", meeting.to_str().unwrap()]));
    let listed = json(&env.run(&["batches", "--json"]));
    let b = &listed[0];
    assert_eq!((b["state"].as_str(), b["pending"].as_u64()), (Some("pending"), Some(1)), "{listed}");
    assert!(b["reserved_micros"].as_i64().unwrap() >= b["expected_micros"].as_i64().unwrap());
    let spend = json(&env.run(&["spend", "--json"]));
    assert!(spend["reserved_usd"].as_f64().unwrap() > 0.0, "the reservation counts against the budget");
    let cancel = env.run(&["batches", "cancel", "1"]);
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    let after = json(&env.run(&["batches", "--json"]));
    assert_eq!(after[0]["state"], "cancelled", "{after}");
    assert_eq!((after[0]["cost_micros"].as_i64(), after[0]["reserved_micros"].as_i64()), (Some(0), Some(0)));
    assert!(!env.path("standup.summary.md").exists());
    // Bad input: one line each.
    let e = one_line_error(&env.run(&["batches", "cancel", "99"]));
    assert!(e.contains("there is no batch 99"), "{e}");
    let e = one_line_error(&env.run(&["batches", "cancel", "1"]));
    assert!(e.contains("already cancelled"), "{e}");
    let e = one_line_error(&env.run(&["summarize", "--batch", "--dry-run", meeting.to_str().unwrap()]));
    assert!(e.contains("--dry-run"), "{e}");
}

#[test]
fn an_eval_with_batch_sends_its_cloud_summaries_in_batches_and_the_next_run_grades_them() {
    let server = SimServer::start(Kind::Anthropic).unwrap();
    server.respond_with(|body| {
        if body.to_string().contains("Summarize this meeting") {
            SUMMARY.into()
        } else {
            "Subject: Launch on Friday\n\nHi Sam,\n\nWe ship the launch on Friday after the vendor review.\n\nBest"
                .into()
        }
    });
    let env = env_for(&server);
    let meeting = env.path("standup.txt");
    let suite = env.path("suite.yaml");
    std::fs::write(
        &suite,
        format!(
            "description: batched\nproviders: [premium]\ntests:\n  - description: standup\n    vars: {{ task: summarize, file: \"{}\" }}\n    assert:\n      - {{ type: icontains, value: friday }}\n  - description: a mail\n    vars: {{ task: draft, text: \"- tell Sam we ship the launch on Friday\\n- after the vendor review\" }}\n    assert:\n      - {{ type: icontains, value: friday }}\n",
            meeting.display()
        ),
    )
    .unwrap();
    // The provider is the economy tier by default; name it premium for the suite.
    let config = std::fs::read_to_string(env.config())
        .unwrap()
        .replace("needs_key = false", "needs_key = false\ntier = \"premium\"");
    env.write_config(&config);
    let suite = suite.to_str().unwrap();
    let first = env.run(&["eval", suite, "--batch", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("went into batches"), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(report["results"].as_array().map(Vec::len), Some(0), "nothing graded yet: {report}");
    assert_eq!(report["queued"], 2);
    // Run again before the batches are back: nothing is sent twice.
    let again = env.run(&["eval", suite, "--batch"]);
    assert!(stderr(&again).contains("still waiting in batch"), "{}", stderr(&again));
    assert_eq!(server.batch_ids().len(), 2);
    let e = one_line_error(&env.run(&["eval", suite, "--batch", "--no-cache"]));
    assert!(e.contains("--no-cache"), "{e}");
    let waited = env.run(&["batches", "wait", "--every", "1", "--timeout", "30"]);
    let said = stderr(&waited);
    assert_eq!(said.matches("an eval's answer is cached").count(), 2, "{said}");
    let sent = server.requests().len();
    let second = json(&env.run(&["eval", suite, "--json"]));
    assert_eq!(second["routes"][0]["passed"].as_u64(), Some(2), "{second}");
    for r in second["results"].as_array().unwrap() {
        assert!(r["cached"].as_bool().unwrap() && r["cost_usd"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(server.requests().len(), sent, "the graded run sent nothing");
    assert!(!env.path("standup.summary.md").exists(), "an eval never writes beside its files");
}
