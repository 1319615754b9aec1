use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use frugal_core::llm::{CancelToken, Completion, Event, FinishReason, Message, Request, Sampling};
use frugal_core::{Assistant, RouteReport, Routed};

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// The prompt; without it, piped stdin is the prompt, or a REPL starts on a terminal.
    prompt: Option<String>,
    /// Read the prompt from this file.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "prompt")]
    file: Option<PathBuf>,
    /// A system prompt.
    #[arg(long)]
    system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling temperature (0 = greedy, deterministic).
    #[arg(long, default_value_t = 0.7, value_parser = in_range(0.0, 2.0))]
    temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = 0.95, value_parser = in_range(0.0, 1.0))]
    top_p: f32,
    /// Repetition penalty (1 = off).
    #[arg(long, default_value_t = 1.1)]
    repeat_penalty: f32,
    /// Seed for reproducible sampling.
    #[arg(long)]
    seed: Option<u32>,
}

/// The generation Ctrl-C should cancel; `None` while waiting for input (Ctrl-C then exits).
type Current = Arc<Mutex<Option<CancelToken>>>;

pub fn run(g: &super::Globals, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let json = g.json;
    let assistant = Arc::new(g.open()?);
    let current: Current = Arc::new(Mutex::new(None));
    let handler_current = current.clone();
    // Weak: the handler lives for the whole process and must not keep the assistant (and its
    // ledger, whose drop takes the last backup) alive past `run`.
    let for_exit = Arc::downgrade(&assistant);
    ctrlc::set_handler(move || match handler_current.lock().ok().and_then(|c| c.clone()) {
        Some(token) => token.cancel(),
        None => {
            eprintln!();
            // Exiting here skips destructors: the ledger's backup is brought up to date first.
            if let Some(a) = for_exit.upgrade() {
                a.flush_ledger();
            }
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")?;

    let prompt = match (&args.prompt, &args.file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => Some(read_prompt_file(f)?),
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("cannot read the prompt from stdin")?;
            Some(s)
        }
        (None, None) => None,
    };
    let mut history = Vec::new();
    if let Some(system) = &args.system {
        history.push(Message::system(system.clone()));
    }
    match prompt {
        Some(p) => {
            if p.trim().is_empty() {
                anyhow::bail!("the prompt is empty");
            }
            history.push(Message::user(p));
            let Some((done, route)) = turn(&assistant, g, &args, &history, &current)? else {
                return Ok(ExitCode::SUCCESS); // a dry run, already shown
            };
            if json {
                super::print_json(&serde_json::json!({
                    "text": done.text,
                    "finish_reason": done.reason,
                    "usage": done.usage,
                    "run_id": route.run_id,
                    "route": route,
                }))?;
            }
            Ok(if done.reason == FinishReason::Cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
        }
        None => repl(&assistant, g, &args, history, &current),
    }
}

fn read_prompt_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read prompt file {}", path.display()))?;
    if bytes.contains(&0) {
        anyhow::bail!("{} looks like a binary file, not a prompt", path.display());
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!("frugal: warning: {} is not valid UTF-8; invalid bytes were replaced", path.display());
            Ok(String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
    }
}

/// One answer; `None` after a dry run (the request was shown, not sent).
fn turn(
    assistant: &Assistant,
    g: &super::Globals,
    args: &ChatArgs,
    history: &[Message],
    current: &Current,
) -> anyhow::Result<Option<(Completion, RouteReport)>> {
    let json = g.json;
    let request = Request::new(history.to_vec()).with_max_tokens(args.max_tokens).with_sampling(Sampling {
        temperature: args.temperature,
        top_p: args.top_p,
        repeat_penalty: args.repeat_penalty,
        seed: args.seed,
        ..Sampling::default()
    });
    let cancel = CancelToken::new();
    if let Ok(mut c) = current.lock() {
        *c = Some(cancel.clone());
    }
    let started = Instant::now();
    let mut first_token = None;
    let stdout = std::io::stdout();
    let (stream, meter, mut route) = match assistant.chat(request, args.file.as_deref(), &g.route, cancel)? {
        Routed::Done((stream, meter), route) => (stream, meter, route),
        Routed::DryRun(d) => {
            super::print_dry_run(&d)?;
            return Ok(None);
        }
        Routed::Queued(..) => anyhow::bail!("a chat is answered now: --batch is for summaries, drafts and answers"),
    };
    let result = stream.collect_blocking_with(|event| match event {
        Event::Text(t) => {
            first_token.get_or_insert_with(|| started.elapsed());
            if !json {
                let mut out = stdout.lock();
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
            }
        }
        Event::Status(s) => eprintln!("frugal: {s}"),
        _ => {}
    });
    if let Ok(mut c) = current.lock() {
        *c = None;
    }
    let done = result?;
    // The meter settles the ledger row before the stream's end reaches us.
    route.cost_micros = meter.spent();
    route.cost_usd = frugal_core::ledger::usd(route.cost_micros);
    if !json {
        println!();
        if done.reason == FinishReason::Cancelled {
            eprintln!("frugal: cancelled");
        }
        if route.route == "cloud" || route.note.is_some() {
            super::print_route(assistant, &route);
        } else if std::io::stderr().is_terminal() {
            let gen_s = started.elapsed().saturating_sub(first_token.unwrap_or_default()).as_secs_f64();
            eprintln!(
                "[local · {} prompt + {} generated tokens · first token {} ms · {:.1} tok/s]",
                done.usage.prompt_tokens,
                done.usage.completion_tokens,
                first_token.unwrap_or_default().as_millis(),
                f64::from(done.usage.completion_tokens) / gen_s.max(1e-3)
            );
        }
    }
    Ok(Some((done, route)))
}

fn repl(
    assistant: &Assistant,
    g: &super::Globals,
    args: &ChatArgs,
    mut history: Vec<Message>,
    current: &Current,
) -> anyhow::Result<ExitCode> {
    eprintln!(
        "frugal chat — local model. /reset clears the conversation, /exit or Ctrl-D quits, Ctrl-C stops an answer."
    );
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).context("cannot read input")? == 0 {
            eprintln!();
            return Ok(ExitCode::SUCCESS);
        }
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(ExitCode::SUCCESS),
            "/reset" => {
                history.retain(|m| m.role == frugal_core::llm::Role::System);
                eprintln!("(conversation cleared)");
                continue;
            }
            text => history.push(Message::user(text)),
        }
        match turn(assistant, g, args, &history, current) {
            Ok(Some((done, _))) => history.push(Message::assistant(done.text)),
            Ok(None) => {
                history.pop();
            }
            Err(e) => {
                eprintln!("frugal: error: {}", format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" "));
                history.pop();
            }
        }
    }
}

/// A clap parser for a number in `[low, high]`: what the providers accept, so a typo is
/// refused here rather than by the model (or silently clamped).
pub(crate) fn in_range(low: f32, high: f32) -> impl Fn(&str) -> Result<f32, String> + Clone {
    move |s| {
        let v: f32 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
        if !(v.is_finite() && (low..=high).contains(&v)) {
            return Err(format!("{v} is not between {low} and {high}"));
        }
        Ok(v)
    }
}
