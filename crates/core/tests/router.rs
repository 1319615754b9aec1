//! The router against a simulated cloud over real HTTP and a real SQLite ledger: escalation
//! on failed checks, tiers, privacy, the budget (also under 200 concurrent escalations), cloud
//! failures falling back to the local answer, and what each of those leaves in the ledger.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use frugal_cloud::sim::{Fault, SimServer};
use frugal_cloud::Kind;
use frugal_core::router::Job;
use frugal_core::tasks::{Check, Quality};
use frugal_core::{Assistant, CoreError, RouteOptions, RouteReport, Routed};
use frugal_ledger::{Month, Outcome, Route, Row};
use frugal_llm::{CancelToken, Message, Provider, Request};

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// An assistant with `econ` (and optionally `prem`) pointing at simulated clouds, a $5 budget,
/// prices for the simulated models, and a ledger in `dir`.
fn setup(dir: &tempfile::TempDir, econ: &SimServer, prem: Option<&SimServer>, extra: &str) -> Assistant {
    let mut toml = format!(
        "ledger = {:?}\n[model]\npath = {:?}\n[budget]\nmonthly_usd = 5.0\n{extra}\n\
         [[providers]]\nname = \"econ\"\nkind = \"openai\"\nbase_url = {:?}\nmodel = \"sim-small\"\nneeds_key = false\nmax_retries = 0\n\
         [[prices]]\nmodel = \"sim-small\"\ninput = 1.0\noutput = 2.0\n[[prices]]\nmodel = \"sim-large\"\ninput = 10.0\noutput = 30.0\n",
        dir.path().join("ledger.sqlite3"),
        model(),
        econ.base_url()
    );
    if let Some(p) = prem {
        toml.push_str(&format!(
            "[[providers]]\nname = \"prem\"\nkind = \"anthropic\"\nbase_url = {:?}\nmodel = \"sim-large\"\ntier = \"premium\"\nneeds_key = false\nmax_retries = 0\n",
            p.base_url()
        ));
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, toml).unwrap();
    Assistant::open(Some(&config), None).unwrap()
}

fn quality(passed: bool) -> Quality {
    Quality::from_checks(vec![Check::new("grounded", passed, "")], false)
}

/// A task whose local answer passes or fails as told, and whose cloud answer is the text the
/// provider streams, passing if it contains "GOOD".
fn run(
    a: &Assistant,
    opts: RouteOptions,
    local_passes: bool,
    private: Option<&str>,
) -> frugal_core::Result<Routed<String>> {
    a.router().route(
        &opts,
        Job {
            task: "draft",
            policy: Default::default(),
            private: private.map(String::from),
            local: &mut |_p| Ok(("local answer".to_string(), quality(local_passes))),
            cloud: &mut |p: &dyn Provider, _entry| {
                let done = p
                    .stream(Request::new(vec![Message::user("write it")]).with_max_tokens(50), CancelToken::new())
                    .collect_blocking()
                    .map_err(CoreError::from)?;
                let ok = done.text.contains("GOOD");
                Ok((done.text, quality(ok)))
            },
            batch: Some(&mut |_entry| Some((Request::new(vec![Message::user("write it")]).with_max_tokens(50), None))),
        },
    )
}

fn done(r: frugal_core::Result<Routed<String>>) -> (String, RouteReport) {
    match r.unwrap() {
        Routed::Done(t, route) => (t, route),
        Routed::DryRun(_) => panic!("unexpected dry run"),
        Routed::Queued(..) => panic!("unexpected batch"),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn rows(a: &Assistant) -> Vec<Row> {
    a.spend().rows(Month::containing(now())).unwrap()
}

fn cloud_rows(a: &Assistant) -> Vec<Row> {
    rows(a).into_iter().filter(|r| r.route == Route::Cloud).collect()
}

#[test]
fn a_passing_local_answer_never_leaves_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    let a = setup(&dir, &econ, None, "");
    let (text, route) = done(run(&a, RouteOptions::default(), true, None));
    assert_eq!((text.as_str(), route.route), ("local answer", "local"));
    assert!(econ.requests().is_empty());
}

#[test]
fn failed_checks_escalate_to_economy_and_are_billed_in_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    econ.respond_with(|_| "A GOOD answer".into());
    let a = setup(&dir, &econ, None, "");
    let (text, route) = done(run(&a, RouteOptions::default(), false, None));
    assert_eq!(text, "A GOOD answer");
    assert_eq!((route.route, route.provider.as_str(), route.model.as_str()), ("cloud", "econ", "sim-small"));
    assert!(route.escalated.as_deref().unwrap().contains("failed its checks (grounded)"), "{route:?}");
    assert_eq!(econ.requests().len(), 1);
    let cloud = cloud_rows(&a);
    assert_eq!(cloud.len(), 1, "{cloud:?}");
    let r = &cloud[0];
    assert_eq!(r.outcome, Some(Outcome::Ok));
    assert!(r.prompt_tokens > 0 && r.completion_tokens == 3, "{r:?}");
    // $1/M in, $2/M out: exact integer micro-dollars, rounded up.
    let expected = (r.prompt_tokens as i64 + r.completion_tokens as i64 * 2).max(1);
    assert_eq!(r.cost_micros, expected);
    assert_eq!(route.cost_micros, expected);
    assert!(r.reserved_micros >= r.cost_micros, "the reservation bounds the real cost");
    assert!(r.escalation.as_deref().unwrap().contains("grounded"));
}

#[test]
fn an_economy_answer_that_fails_climbs_to_premium() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    econ.respond_with(|_| "meh".into());
    let prem = SimServer::start(Kind::Anthropic).unwrap();
    prem.respond_with(|_| "GOOD and thorough".into());
    let a = setup(&dir, &econ, Some(&prem), "");
    let (text, route) = done(run(&a, RouteOptions::default(), false, None));
    assert_eq!(text, "GOOD and thorough");
    assert_eq!(route.provider, "prem");
    assert!(route.escalated.as_deref().unwrap().contains("econ answer failed"), "{route:?}");
    assert_eq!((econ.requests().len(), prem.requests().len()), (1, 1));
    assert_eq!(cloud_rows(&a).len(), 2);
}

#[test]
fn private_input_and_local_only_stay_local() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    let a = setup(&dir, &econ, None, "");
    let (text, route) =
        done(run(&a, RouteOptions::default(), false, Some("it holds passages from a local-only folder")));
    assert_eq!(text, "local answer");
    assert!(route.note.as_deref().unwrap().contains("kept on this machine"), "{route:?}");
    let err = run(&a, RouteOptions { cloud: true, ..Default::default() }, false, Some("marked private")).unwrap_err();
    assert!(err.to_string().contains("not sent to a cloud: marked private"), "{err}");
    let (_, route) = done(run(&a, RouteOptions { local_only: true, ..Default::default() }, false, None));
    assert!(route.note.as_deref().unwrap().contains("--local-only"));
    assert!(econ.requests().is_empty(), "nothing private may reach the cloud");
}

#[test]
fn cloud_failures_and_refusals_fall_back_to_the_local_answer_marked() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    econ.set_fault(Some(Fault::ServerError));
    let a = setup(&dir, &econ, None, "");
    let (text, route) = done(run(&a, RouteOptions::default(), false, None));
    assert_eq!(text, "local answer");
    let note = route.note.unwrap();
    assert!(note.contains("HTTP 500") && note.contains("showing the local answer"), "{note}");
    let failed = &cloud_rows(&a)[0];
    assert_eq!((failed.outcome, failed.cost_micros), (Some(Outcome::Failed), 0));

    // A cut stream was accepted by the provider: charged at the reservation, never zero.
    econ.set_fault(Some(Fault::CutHalfway));
    let (text, _) = done(run(&a, RouteOptions::default(), false, None));
    assert_eq!(text, "local answer");
    let cut = cloud_rows(&a).pop().unwrap();
    assert!(cut.cost_micros > 0 && cut.cost_micros == cut.reserved_micros, "{cut:?}");

    // A per-request cap below the worst case: refused before sending, and a row says why.
    let dir2 = tempfile::tempdir().unwrap();
    let econ2 = SimServer::start(Kind::OpenAi).unwrap();
    let a2 = setup(&dir2, &econ2, None, "per_request_usd = 0.000001");
    let (text, route) = done(run(&a2, RouteOptions::default(), false, None));
    assert_eq!(text, "local answer");
    assert!(route.note.unwrap().contains("per-request limit"));
    assert!(econ2.requests().is_empty());
    let refused = rows(&a2).into_iter().find(|r| r.outcome == Some(Outcome::Refused)).unwrap();
    assert_eq!(refused.cost_micros, 0);
}

#[test]
fn no_price_or_no_budget_means_no_call() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "ledger = {:?}\n[model]\npath = {:?}\n[budget]\nmonthly_usd = 5.0\n[[providers]]\nname = \"econ\"\nkind = \"openai\"\nbase_url = {:?}\nmodel = \"unpriced-model\"\nneeds_key = false\n",
            dir.path().join("l.sqlite3"),
            model(),
            econ.base_url()
        ),
    )
    .unwrap();
    let a = Assistant::open(Some(&config), None).unwrap();
    let err = run(&a, RouteOptions { cloud: true, ..Default::default() }, false, None).unwrap_err();
    assert!(err.to_string().contains("no price is known for unpriced-model"), "{err}");

    let dir2 = tempfile::tempdir().unwrap();
    let econ2 = SimServer::start(Kind::OpenAi).unwrap();
    let a2 = setup(&dir2, &econ2, None, "");
    let text = std::fs::read_to_string(dir2.path().join("config.toml")).unwrap().replace("monthly_usd = 5.0", "");
    std::fs::write(dir2.path().join("config.toml"), text).unwrap();
    drop(a2);
    let a2 = Assistant::open(Some(&dir2.path().join("config.toml")), None).unwrap();
    let err = run(&a2, RouteOptions { cloud: true, ..Default::default() }, false, None).unwrap_err();
    assert!(err.to_string().contains("no monthly budget"), "{err}");
    assert!(econ.requests().is_empty() && econ2.requests().is_empty());
}

#[test]
fn dry_run_captures_the_request_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    let a = setup(&dir, &econ, None, "");
    match run(&a, RouteOptions { dry_run: true, ..Default::default() }, false, None).unwrap() {
        Routed::DryRun(d) => {
            assert_eq!(d.outbound.body["messages"][0]["content"], "write it");
            assert!(d.worst_case_usd >= d.estimated_usd && d.worst_case_usd > 0.0, "{d:?}");
        }
        Routed::Done(..) | Routed::Queued(..) => panic!("a dry run must not answer"),
    }
    assert!(econ.requests().is_empty());
    assert!(rows(&a).is_empty(), "a dry run writes no ledger row");
}

/// 200 escalations at once against a cap that fits a fraction of them: the settled spend
/// stays under the cap, every request has exactly one row, none is left pending.
#[test]
fn two_hundred_concurrent_escalations_never_cross_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let econ = SimServer::start(Kind::OpenAi).unwrap();
    econ.respond_with(|_| "A GOOD answer with several words in it".into());
    econ.set_token_delay(std::time::Duration::from_millis(3));
    // Worst case per request: (≈ 29 prompt tokens × $1 + 50 × $2) / 1M ≈ 129 µ$.
    let a = setup(&dir, &econ, None, "");
    a.spend().set_budget(0.003).unwrap();
    let a = Arc::new(a);
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let a = a.clone();
            std::thread::spawn(move || run(&a, RouteOptions { cloud: true, ..Default::default() }, false, None))
        })
        .collect();
    let mut served = 0;
    for t in threads {
        match t.join().unwrap() {
            Ok(Routed::Done(_, route)) => served += usize::from(route.route == "cloud"),
            Ok(Routed::DryRun(_) | Routed::Queued(..)) => panic!("no dry run or batch asked"),
            // With --cloud there is no local answer to fall back to: the refusal is the answer.
            Err(e) => assert!(e.to_string().contains("monthly budget"), "{e}"),
        }
    }
    let report = a.spend().report(Month::containing(now())).unwrap();
    let all = rows(&a);
    assert_eq!(all.len(), 200, "one row per request, none lost or duplicated");
    let mut ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    assert!(all.iter().all(|r| r.state == frugal_ledger::State::Settled), "nothing left pending");
    assert!(report.spent_micros <= 3_000, "spent {} µ$ > cap", report.spent_micros);
    assert_eq!(report.reserved_micros, 0);
    let refused = all.iter().filter(|r| r.outcome == Some(Outcome::Refused)).count();
    assert_eq!(served + refused, 200);
    assert!(served >= 20 && refused >= 100, "served {served}, refused {refused}");
    assert_eq!(econ.requests().len(), served, "refused requests are never sent");
}
