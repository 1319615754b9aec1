//! The cloud's cost levers end to end: prompt caching and the batch queue, over real HTTP
//! against the simulated provider (which caches and batches as each vendor documents), with
//! a real SQLite ledger and list prices from `models/prices.toml`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use frugal_cloud::sim::{BatchFault, Fault, SimServer};
use frugal_cloud::Kind;
use frugal_core::router::Job;
use frugal_core::tasks::{Check, Quality};
use frugal_core::{Assistant, RouteOptions, Routed};
use frugal_ledger::{BatchState, Month, Outcome, Row};
use frugal_llm::{CancelToken, Message, Provider, Request};

/// The provider of each protocol as a user names it, on a model with a list price.
fn provider(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Anthropic => ("anthropic", "claude-sonnet-4-0"),
        Kind::OpenAi => ("openai", "gpt-4.1-mini"),
    }
}

fn setup(dir: &Path, sim: &SimServer, kind: Kind, budget: f64) -> Assistant {
    let (name, model) = provider(kind);
    let toml = format!(
        "ledger = {:?}\n[budget]\nmonthly_usd = {budget}\n\
         [[providers]]\nname = \"{name}\"\nkind = \"{}\"\nbase_url = {:?}\nmodel = \"{model}\"\nneeds_key = false\nmax_retries = 0\n",
        dir.join("ledger.sqlite3"),
        kind.as_str(),
        sim.base_url()
    );
    let config = dir.join("config.toml");
    std::fs::write(&config, toml).unwrap();
    Assistant::open(Some(&config), None).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn rows(a: &Assistant) -> Vec<Row> {
    a.spend().rows(Month::containing(now())).unwrap()
}

/// A meeting of about `turns` × 90 characters.
fn meeting(dir: &Path, turns: usize) -> PathBuf {
    let mut text = String::new();
    for i in 0..turns {
        let who = ["Ana", "Bo", "Chen"][i % 3];
        text.push_str(&format!(
            "{who}: Item {i} of the launch plan: we reviewed the staging site and the vendor quote together.\n"
        ));
    }
    let path = dir.join("launch.txt");
    std::fs::write(&path, text).unwrap();
    path
}

const SUMMARY: &str = r#"{"summary": "Ana, Bo and Chen reviewed the launch plan, the staging site and the vendor quote.", "decisions": [], "action_items": [], "open_questions": []}"#;

fn summarize(a: &Assistant, path: &Path, opts: &RouteOptions) -> Routed<frugal_core::tasks::summarize::SummaryReport> {
    let input = frugal_core::input::read_input(path).unwrap();
    a.summarize(&input, opts, &CancelToken::new(), &mut |_| {}, &mut |_| {}).unwrap()
}

#[test]
fn a_second_summary_reads_the_cached_prefix_and_costs_at_least_40_percent_less_at_anthropic() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::Anthropic).unwrap();
    sim.respond_with(|_| SUMMARY.to_string());
    let a = setup(dir.path(), &sim, Kind::Anthropic, 5.0);
    let path = meeting(dir.path(), 80); // ≈ 1,900 tokens: above Sonnet's 1,024 minimum
    let opts = RouteOptions { cloud: true, ..Default::default() };
    for _ in 0..2 {
        assert!(matches!(summarize(&a, &path, &opts), Routed::Done(..)));
    }
    let sent = sim.requests();
    assert!(sent[0].body.contains("\"cache_control\""), "the meeting is marked for caching");
    let r = rows(&a);
    assert_eq!(r.len(), 2);
    let (first, second) = (&r[0], &r[1]);
    assert!(first.cache_write_tokens > 1000 && first.cached_tokens == 0, "{first:?}");
    assert!(second.cached_tokens > 1000 && second.cache_write_tokens == 0, "{second:?}");
    assert!(
        second.cost_micros * 10 <= first.cost_micros * 6,
        "the second summary must cost ≥ 40 % less: {} then {}",
        first.cost_micros,
        second.cost_micros
    );
    // What caching saved, row by row, is what the report adds up: the write premium
    // paid on the first, the reads' discount on the second.
    assert!(first.levers.cache_micros < 0 && second.levers.cache_micros > 0);
    let report = a.spend().report(Month::containing(now())).unwrap();
    assert_eq!(report.levers.cache_micros, first.levers.cache_micros + second.levers.cache_micros);
    assert_eq!(report.levers.cache_read_tokens, second.cached_tokens);
    // A short meeting is under the minimum: marking it would only pay the premium, so no mark.
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "Ana: We ship on Friday.\nBo: I will tell the vendor.\n").unwrap();
    summarize(&a, &short, &opts);
    assert!(!sim.requests().last().unwrap().body.contains("cache_control"));
}

#[test]
fn openai_gets_the_task_cache_key_and_caches_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    sim.respond_with(|_| SUMMARY.to_string());
    let a = setup(dir.path(), &sim, Kind::OpenAi, 5.0);
    let path = meeting(dir.path(), 80);
    let opts = RouteOptions { cloud: true, ..Default::default() };
    summarize(&a, &path, &opts);
    summarize(&a, &path, &opts);
    let body: serde_json::Value = serde_json::from_str(&sim.requests()[0].body).unwrap();
    assert_eq!(body["prompt_cache_key"], "frugal-summarize");
    assert!(!sim.requests()[0].body.contains("cache_control"));
    let r = rows(&a);
    assert!(r[1].cached_tokens >= 1024 && r[1].cost_micros < r[0].cost_micros, "{:?}", r[1]);
    assert!(r[1].levers.cache_micros > 0 && r[0].levers.cache_micros == 0);
}

fn quality(passed: bool) -> Quality {
    Quality::from_checks(vec![Check::new("grounded", passed, "")], false)
}

/// A task that always escalates (`--cloud`), batchable as one request.
fn route(a: &Assistant, opts: &RouteOptions) -> Routed<String> {
    a.router()
        .route(
            opts,
            Job {
                task: "summarize",
                policy: Default::default(),
                private: None,
                local: &mut |_p| Ok(("local".to_string(), quality(false))),
                cloud: &mut |p: &dyn Provider, _e| {
                    let done = p
                        .stream(Request::new(vec![Message::user("write it")]).with_max_tokens(50), CancelToken::new())
                        .collect_blocking()
                        .map_err(frugal_core::CoreError::from)?;
                    Ok((done.text, quality(true)))
                },
                batch: Some(&mut |_e| Some((Request::new(vec![Message::user("write it")]).with_max_tokens(50), None))),
            },
        )
        .unwrap()
}

#[test]
fn batched_work_costs_half_of_interactive_and_settles_after_a_restart() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimServer::start(kind).unwrap();
        let a = setup(dir.path(), &sim, kind, 5.0);
        let interactive = RouteOptions { cloud: true, ..Default::default() };
        assert!(matches!(route(&a, &interactive), Routed::Done(..)));
        let batched = RouteOptions { batch: true, ..interactive };
        let Routed::Queued(None, report) = route(&a, &batched) else { panic!("{kind:?}: not queued") };
        assert_eq!(report.route, "batch");
        assert!(report.note.as_deref().unwrap().contains("queued as batch"));
        let pending = rows(&a).into_iter().find(|r| r.batch_id.is_some()).unwrap();
        assert!(pending.reserved_micros > 0 && pending.outcome.is_none());
        assert!(a.spend().report(Month::containing(now())).unwrap().reserved_micros >= pending.reserved_micros);
        // A restart: the pending row is the batch's, not an interrupted request.
        drop(a);
        let a = setup(dir.path(), &sim, kind, 5.0);
        assert!(a.spend().take_notice().is_none());
        let lines = a.poll_batches().unwrap().finished;
        assert!(lines[0].contains("ended"), "{kind:?}: {lines:?}");
        let r = rows(&a);
        let (live, batch) = (&r[0], r.iter().find(|r| r.batch_id.is_some()).unwrap());
        assert_eq!(batch.outcome, Some(Outcome::Ok));
        assert_eq!((batch.prompt_tokens, batch.completion_tokens), (live.prompt_tokens, live.completion_tokens));
        // Half the price, rounded up per rate.
        assert!(
            (batch.cost_micros * 2 - live.cost_micros).abs() <= 2,
            "{kind:?}: {} vs {}",
            batch.cost_micros,
            live.cost_micros
        );
        assert_eq!(batch.levers.batch_micros, live.cost_micros - batch.cost_micros);
        let report = a.spend().report(Month::containing(now())).unwrap();
        assert_eq!((report.reserved_micros, report.levers.batch_requests), (0, 1));
        assert_eq!(report.levers.batch_micros, batch.levers.batch_micros);
    }
}

#[test]
fn the_cap_holds_while_batches_are_pending() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::Anthropic).unwrap();
    sim.set_batch_polls(100);
    // Sonnet at half price: one request's worst case is ≈ $0.0004; the cap fits two.
    let a = setup(dir.path(), &sim, Kind::Anthropic, 0.0009);
    let opts = RouteOptions { cloud: true, batch: true, ..Default::default() };
    assert!(matches!(route(&a, &opts), Routed::Queued(..)));
    assert!(matches!(route(&a, &opts), Routed::Queued(..)));
    let e = a
        .router()
        .route(
            &opts,
            Job {
                task: "summarize",
                policy: Default::default(),
                private: None,
                local: &mut |_p| Ok(("local".to_string(), quality(false))),
                cloud: &mut |_p, _e| unreachable!("a refused batch falls back to nothing"),
                batch: Some(&mut |_e| Some((Request::new(vec![Message::user("write it")]).with_max_tokens(50), None))),
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("monthly budget"), "{e}");
    assert_eq!(sim.batch_ids().len(), 2, "the refused batch was never sent");
    let report = a.spend().report(Month::containing(now())).unwrap();
    assert!(report.reserved_micros + report.spent_micros <= 900, "{report:?}");
}

/// Submits four requests as one batch straight through the router.
fn submit_four(a: &Assistant, kind: Kind) -> i64 {
    let (name, _) = provider(kind);
    let entry = a.settings().get().provider(name).cloned().unwrap();
    let requests =
        (0..4).map(|i| (Request::new(vec![Message::user(format!("part {i}"))]).with_max_tokens(20), None)).collect();
    a.router().submit_batch("summarize", "run-1", &entry, "asked", requests).unwrap().unwrap().batch_id
}

fn batch_rows(a: &Assistant, id: i64) -> Vec<Row> {
    rows(a).into_iter().filter(|r| r.batch_id == Some(id)).collect()
}

#[test]
fn expired_partial_cancelled_lost_and_malformed_batches_settle_at_what_is_known() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimServer::start(kind).unwrap();
        let a = setup(dir.path(), &sim, kind, 5.0);
        for (fault, state, billed, worst) in [
            (BatchFault::Expire, BatchState::Expired, 2, 0),
            (BatchFault::PartialFailure, BatchState::Ended, 2, 0),
            (BatchFault::CancelledByProvider, BatchState::Cancelled, 2, 0),
            (BatchFault::MalformedResults, BatchState::Ended, 3, 1),
            (BatchFault::CutResults, BatchState::Ended, 3, 1),
            (BatchFault::Forget, BatchState::Lost, 0, 4),
        ] {
            sim.set_batch_fault(Some(fault));
            let id = submit_four(&a, kind);
            // A batch the provider does not know counts as lost only after three polls in a row.
            let polls = if fault == BatchFault::Forget { 3 } else { 1 };
            for n in 0..polls {
                a.poll_batches().unwrap();
                let b = a.router().batches(1).unwrap().into_iter().find(|b| b.id == id).unwrap();
                assert_eq!(b.state == BatchState::Pending, n + 1 < polls, "{kind:?} {fault:?} poll {n}: {b:?}");
            }
            let b = a.router().batches(1).unwrap().into_iter().find(|b| b.id == id).unwrap();
            assert_eq!(b.state, state, "{kind:?} {fault:?}: {b:?}");
            let r = batch_rows(&a, id);
            let ok = r.iter().filter(|r| r.outcome == Some(Outcome::Ok)).count();
            let at_worst = r.iter().filter(|r| r.cost_micros > 0 && r.cost_micros == r.reserved_micros).count();
            let free = r.iter().filter(|r| r.cost_micros == 0).count();
            assert_eq!((ok, at_worst, free), (billed, worst, 4 - billed - worst), "{kind:?} {fault:?}: {r:?}");
            assert!(r.iter().all(|r| r.outcome.is_some()), "every row settled");
            assert!(r.iter().filter(|r| r.cost_micros == 0).all(|r| r.note.is_some()), "rows say why");
            // Polling again settles nothing twice.
            a.poll_batches().unwrap();
            assert_eq!(batch_rows(&a, id), r);
        }
    }
}

#[test]
fn a_poll_refused_429_or_500_keeps_the_batch_pending_and_a_user_cancel_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::Anthropic).unwrap();
    let a = setup(dir.path(), &sim, Kind::Anthropic, 5.0);
    let id = submit_four(&a, Kind::Anthropic);
    for fault in [Fault::RateLimited { retry_after: 30 }, Fault::ServerError] {
        sim.push_fault(fault);
        let lines = a.poll_batches().unwrap().problems;
        assert!(lines.len() == 1 && lines[0].starts_with(&format!("batch {id}:")), "{lines:?}");
        let b = a.router().batches(1).unwrap().into_iter().find(|b| b.id == id).unwrap();
        assert_eq!(b.state, BatchState::Pending);
        assert!(b.note.is_some() && b.pending == 4);
    }
    a.poll_batches().unwrap();
    assert!(batch_rows(&a, id).iter().all(|r| r.outcome == Some(Outcome::Ok)));
    // Cancelled by the user before it ran: every reservation released, nothing billed.
    sim.set_batch_polls(10);
    let id = submit_four(&a, Kind::Anthropic);
    a.router().cancel_batch(id).unwrap();
    a.poll_batches().unwrap();
    let b = a.router().batches(1).unwrap().into_iter().find(|b| b.id == id).unwrap();
    assert_eq!((b.state, b.cost_micros, b.reserved_micros), (BatchState::Cancelled, 0, 0));
    assert!(a.router().cancel_batch(id).unwrap_err().to_string().contains("already cancelled"));
}

#[test]
fn a_batched_summary_is_written_beside_its_meeting_and_a_provider_without_batches_runs_now() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    sim.respond_with(|_| SUMMARY.to_string());
    let a = setup(dir.path(), &sim, Kind::OpenAi, 5.0);
    let path = meeting(dir.path(), 10);
    let opts = RouteOptions { cloud: true, batch: true, ..Default::default() };
    assert!(matches!(summarize(&a, &path, &opts), Routed::Queued(None, _)));
    let out = dir.path().join("launch.summary.md");
    assert!(!out.exists());
    // The process ends after settling, before delivering: the next poll delivers, bills nothing again.
    let settled = a.router().poll_batches().unwrap();
    assert_eq!(settled.finished.len(), 1);
    let cost = a.spend().report(Month::containing(now())).unwrap().spent_micros;
    assert!(!out.exists() && cost > 0);
    let lines = a.poll_batches().unwrap().finished;
    assert!(lines[0].contains("summary written to"), "{lines:?}");
    assert_eq!(a.spend().report(Month::containing(now())).unwrap().spent_micros, cost);
    assert!(a.poll_batches().unwrap().finished.is_empty(), "delivered once");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("## Summary") && text.contains("vendor quote"), "{text}");
    // A vendor without a batch API (a price without a batch share): the same job now, at
    // the normal price, and the report says so.
    let toml = std::fs::read_to_string(dir.path().join("config.toml")).unwrap()
        + "[[prices]]\nmodel = \"gpt-4.1-mini\"\ninput = 0.4\noutput = 1.6\n";
    std::fs::write(dir.path().join("config.toml"), toml).unwrap();
    let a = Assistant::open(Some(&dir.path().join("config.toml")), None).unwrap();
    let Routed::Done(_, report) = summarize(&a, &path, &opts) else { panic!("ran now") };
    assert!(report.note.as_deref().unwrap_or("").contains("no batch API"), "{report:?}");
}

#[test]
fn a_batch_the_provider_refuses_as_a_whole_bills_nothing() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimServer::start(kind).unwrap();
        sim.set_batch_fault(Some(BatchFault::Invalid));
        let a = setup(dir.path(), &sim, kind, 5.0);
        let (name, _) = provider(kind);
        let entry = a.settings().get().provider(name).cloned().unwrap();
        let request = vec![(Request::new(vec![Message::user("part")]).with_max_tokens(20), None)];
        match kind {
            // OpenAI takes the batch and fails it in validation: no output file, nothing ran.
            Kind::OpenAi => {
                let id =
                    a.router().submit_batch("summarize", "run-1", &entry, "asked", request).unwrap().unwrap().batch_id;
                a.poll_batches().unwrap();
                let b = a.router().batches(1).unwrap().into_iter().find(|b| b.id == id).unwrap();
                assert_eq!((b.state, b.cost_micros, b.reserved_micros), (BatchState::Failed, 0, 0), "{b:?}");
            }
            // Anthropic refuses to create it: one line, the reservation released.
            Kind::Anthropic => {
                let e = a.router().submit_batch("summarize", "run-1", &entry, "asked", request).unwrap_err();
                assert!(e.to_string().contains("HTTP 400") && !e.to_string().contains('\n'), "{e}");
            }
        }
        let report = a.spend().report(Month::containing(now())).unwrap();
        assert_eq!((report.spent_micros, report.reserved_micros), (0, 0), "{kind:?}");
    }
}

/// The provider takes the batch but its answer cannot be read: the batch runs, and is
/// billed, without Frugal knowing its id. Its requests are charged at their worst case, never
/// settled at $0 as if nothing had been sent.
#[test]
fn a_batch_accepted_with_an_unreadable_answer_is_charged_not_free() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimServer::start(kind).unwrap();
        sim.set_batch_fault(Some(BatchFault::GarbledCreate));
        let a = setup(dir.path(), &sim, kind, 5.0);
        let (name, _) = provider(kind);
        let entry = a.settings().get().provider(name).cloned().unwrap();
        let request = vec![(Request::new(vec![Message::user("part")]).with_max_tokens(20), None)];
        let e = a.router().submit_batch("summarize", "run-1", &entry, "asked", request).unwrap_err();
        assert!(e.to_string().contains("not JSON") && !e.to_string().contains('\n'), "{e}");
        let report = a.spend().report(Month::containing(now())).unwrap();
        assert!(report.spent_micros > 0 && report.reserved_micros == 0, "{kind:?}: {report:?}");
    }
}

#[test]
fn two_processes_never_settle_one_batch_and_a_price_change_does_not_strand_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::Anthropic).unwrap();
    let a = setup(dir.path(), &sim, Kind::Anthropic, 5.0);
    let b = Assistant::open(Some(&dir.path().join("config.toml")), None).unwrap();
    let id = submit_four(&a, Kind::Anthropic);
    let ledger = a.spend().ledger().unwrap();
    assert!(ledger.claim_batch(id).unwrap());
    assert!(!b.spend().ledger().unwrap().claim_batch(id).unwrap(), "claimed once");
    assert!(b.poll_batches().unwrap().finished.is_empty(), "the other process leaves it alone");
    ledger.release_batch(id, None, false).unwrap();
    // The user overrides the model's price (no batch share) while the batch is out: it still
    // settles, at the price it was submitted at.
    let toml = std::fs::read_to_string(dir.path().join("config.toml")).unwrap()
        + "[[prices]]\nmodel = \"claude-sonnet-4-0\"\ninput = 30.0\noutput = 150.0\n";
    std::fs::write(dir.path().join("config.toml"), toml).unwrap();
    let c = Assistant::open(Some(&dir.path().join("config.toml")), None).unwrap();
    let news = c.poll_batches().unwrap();
    assert_eq!(news.finished.len(), 1, "{:?}", news.problems);
    let rows = batch_rows(&c, id);
    // At the override (ten times the list price, no batch share) each would cost more than its
    // reservation; at the batch price it was submitted at, less.
    assert!(
        rows.iter().all(|r| r.outcome == Some(Outcome::Ok) && r.cost_micros > 0 && r.cost_micros <= r.reserved_micros),
        "{rows:?}"
    );
}

#[test]
fn a_batched_draft_comes_back_checked_against_its_notes() {
    use frugal_core::tasks::draft::{DraftTask, Length, Tone};
    let dir = tempfile::tempdir().unwrap();
    let sim = SimServer::start(Kind::OpenAi).unwrap();
    sim.respond_with(|_| {
        "Subject: Friday launch\n\nHi team,\n\nWe ship the launch on Friday after the vendor review.\n\nBest".into()
    });
    let a = setup(dir.path(), &sim, Kind::OpenAi, 5.0);
    let task = DraftTask {
        notes: "- we ship the launch on Friday\n- after the vendor review".into(),
        reply_to: None,
        tone: Tone::Neutral,
        length: Length::Short,
        seed: 1,
        related: Default::default(),
    };
    let opts = RouteOptions { cloud: true, batch: true, ..Default::default() };
    let routed = a.draft(&task, None, &opts, &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(matches!(routed, Routed::Queued(None, _)));
    let lines = a.poll_batches().unwrap().finished;
    assert!(lines[0].contains("kept in") && lines[0].contains("Subject: Friday launch"), "{lines:?}");
    let kept = std::fs::read_dir(dir.path().join("batches/answers")).unwrap().count();
    assert_eq!(kept, 1);
}
