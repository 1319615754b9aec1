use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use frugal_core::eval::{policy_for, DryRunCost, EvalOptions, Evaluator, Ran};
use frugal_core::evals::{cheapest_routes, Report, Route, Suite, TestResult};
use frugal_core::llm::CancelToken;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The suite, in promptfoo's YAML format (see evals/ for examples).
    suite: PathBuf,
    /// Compare these routes instead of the suite's `providers` (local, local:NAME, economy,
    /// premium, auto or a provider's name), comma-separated.
    #[arg(long, value_name = "R,..")]
    routes: Option<String>,
    /// Every test × route as CSV.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Also write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Run every test again, even those whose answer is cached.
    #[arg(long)]
    no_cache: bool,
    /// The route that grades `llm-rubric` assertions (its cost is reported on its own line).
    #[arg(long, value_name = "ROUTE")]
    judge: Option<String>,
    /// Name, per task, the cheapest route whose pass rate reaches this share (0 to 1).
    #[arg(long, value_name = "RATE", value_parser = super::chat::in_range(0.0, 1.0))]
    target: Option<f32>,
    /// With --target: write each task's cheapest good-enough route as its `[policy.TASK]`.
    #[arg(long, requires = "target")]
    apply: bool,
}

pub fn run(g: &super::Globals, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let suite = Suite::load(&args.suite)?;
    let routes = match &args.routes {
        Some(r) => Route::parse_list(r)?,
        None => suite.routes.clone(),
    };
    let judge = args.judge.as_deref().map(Route::parse).transpose()?;
    let assistant = g.open()?;
    let mut evaluator = Evaluator::new(&assistant);
    let mut checked = routes.clone();
    checked.extend(judge.clone());
    evaluator.check_routes(&suite, &checked)?;
    if g.route.dry_run {
        return dry_run(&mut evaluator, &suite, &routes);
    }

    let cancel = CancelToken::new();
    let stopped = Arc::new(AtomicBool::new(false));
    let (handler, flag) = (cancel.clone(), stopped.clone());
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        handler.cancel();
    })
    .context("cannot install the Ctrl-C handler")?;

    let total = (suite.tests.len() * routes.len()) as u64;
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed}, about {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if g.route.batch && args.no_cache {
        // A batched answer is graded from the cache: without it every run would pay again.
        anyhow::bail!("--batch needs the eval cache: drop --no-cache");
    }
    let opts = EvalOptions { routes: routes.clone(), no_cache: args.no_cache, judge, batch: g.route.batch };
    let mut results: Vec<TestResult> = Vec::new();
    let mut queued = 0usize;
    'tests: for test in &suite.tests {
        for route in &routes {
            bar.set_message(format!("{} on {route}", test.label()));
            match evaluator.run(&suite, test, route, &opts, &cancel) {
                Ok(Ran::Graded(r)) => results.push(*r),
                Ok(Ran::Queued(note)) => {
                    queued += 1;
                    bar.suspend(|| eprintln!("frugal: {} on {route}: {note}", test.label()));
                }
                Err(frugal_core::CoreError::Task(frugal_core::tasks::TaskError::Cancelled)) => break 'tests,
                Err(e) => return Err(e.into()),
            }
            bar.inc(1);
            if stopped.load(Ordering::SeqCst) {
                break 'tests;
            }
        }
    }
    bar.finish_and_clear();
    if queued > 0 {
        eprintln!(
            "frugal: {queued} answer(s) went into batches at the batch price and are not in this report; `frugal batches wait`, then run this eval again to grade them (their answers are cached)"
        );
    }
    let interrupted = stopped.load(Ordering::SeqCst);
    if interrupted {
        eprintln!("frugal: stopped: {} of {total} results kept", results.len());
    }
    let judge_usd = frugal_core::ledger::usd(evaluator.judge_micros);
    let report = Report::new(&results, suite.description.as_deref(), judge_usd);
    let choices = args.target.map(|t| cheapest_routes(&results, f64::from(t)));

    if let Some(path) = &args.html {
        std::fs::write(path, report.to_html()).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("frugal: wrote {}", path.display());
    }
    if g.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("results".into(), serde_json::to_value(&results)?);
            o.insert("interrupted".into(), interrupted.into());
            o.insert("queued".into(), queued.into());
            if let Some(c) = &choices {
                o.insert("cheapest_routes".into(), serde_json::to_value(c)?);
            }
        }
        super::print_json(&v)?;
    } else if args.csv {
        print!("{}", report.to_csv());
    } else {
        print!("{}", report.to_table());
        println!("judge: ${judge_usd:.4} (not included in the routes' cost)");
    }
    if let Some(choices) = &choices {
        if queued > 0 && args.apply {
            anyhow::bail!("not applied: {queued} answer(s) are still in batches; grade them first (run the eval again when `frugal batches` says they are back)");
        }
        apply_choices(&assistant, choices, args.apply, g.json)?;
    }
    Ok(if interrupted { ExitCode::from(super::CANCELLED) } else { ExitCode::SUCCESS })
}

/// `--dry-run`: what the cloud part of the run could cost at worst; nothing is sent.
fn dry_run(evaluator: &mut Evaluator, suite: &Suite, routes: &[Route]) -> anyhow::Result<ExitCode> {
    let mut cost = DryRunCost::default();
    for test in &suite.tests {
        for route in routes {
            evaluator.dry_run(suite, test, route, &mut cost);
        }
    }
    eprintln!(
        "frugal: dry run — {} tests × {} routes; {} cloud requests: ≈ ${:.4}, worst case ${:.4}; nothing was sent",
        suite.tests.len(),
        routes.len(),
        cost.cloud_requests,
        cost.estimated_usd,
        cost.worst_case_usd
    );
    for u in &cost.unknown {
        eprintln!("frugal: not estimated: {u}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the cheapest good-enough route per task, and with `apply` writes it as the task's policy.
fn apply_choices(
    assistant: &frugal_core::Assistant,
    choices: &[frugal_core::evals::Choice],
    apply: bool,
    json: bool,
) -> anyhow::Result<()> {
    for c in choices {
        let line = match &c.route {
            Some(r) => format!(
                "{}: {r} passes {:.0}%{}",
                c.task,
                c.pass_rate * 100.0,
                c.cost_per_passed.map(|p| format!(" at ${p:.4} per passed test")).unwrap_or_default()
            ),
            None => format!("{}: no route reaches the target (best {:.0}%)", c.task, c.pass_rate * 100.0),
        };
        if !json {
            println!("{line}");
        }
        let Some(route) = &c.route else { continue };
        if !apply {
            continue;
        }
        let policy = Route::parse(route).ok().as_ref().and_then(policy_for);
        match (policy, c.task.as_str()) {
            (Some(p), task @ ("summarize" | "draft" | "ask" | "chat")) => {
                assistant.settings().update(|cfg| {
                    let slot = match task {
                        "summarize" => &mut cfg.policy.summarize,
                        "draft" => &mut cfg.policy.draft,
                        "ask" => &mut cfg.policy.ask,
                        _ => &mut cfg.policy.chat,
                    };
                    *slot = p;
                    Ok(())
                })?;
                eprintln!("frugal: [policy.{task}] now takes the {route} route");
            }
            _ => eprintln!("frugal: [policy.{}] not changed: the {route} route cannot be written as a policy", c.task),
        }
    }
    Ok(())
}
