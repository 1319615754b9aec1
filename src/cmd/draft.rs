use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use frugal_core::email::parse_email;
use frugal_core::input::{decode, read_input};
use frugal_core::llm::{CancelToken, Event};
use frugal_core::tasks::draft::{ChatterFilter, DraftTask, Length, Tone};
use frugal_core::Routed;

#[derive(Args, Debug)]
pub struct DraftArgs {
    /// Bullet points or notes for the email (or piped on stdin).
    #[arg(allow_hyphen_values = true)]
    text: Option<String>,
    /// Answer this email (.eml or pasted text in a file); TEXT then says what to reply.
    #[arg(long, value_name = "FILE")]
    reply_to: Option<PathBuf>,
    /// neutral, friendly, formal or firm.
    #[arg(long, default_value = "neutral")]
    tone: Tone,
    /// short, medium or long.
    #[arg(long, default_value = "medium")]
    length: Length,
    /// Sampling seed: another seed gives another version of the draft.
    #[arg(long, default_value_t = 1)]
    seed: u32,
}

pub fn run(g: &super::Globals, args: DraftArgs) -> anyhow::Result<ExitCode> {
    let json = g.json;
    let notes = match &args.text {
        Some(t) => t.clone(),
        None if args.reply_to.is_none() || !std::io::stdin().is_terminal() => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("give the email's points as an argument, on stdin, or --reply-to FILE");
            }
            let mut buf = Vec::new();
            std::io::stdin()
                .take(frugal_core::input::MAX_INPUT_BYTES + 1)
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            if buf.iter().all(u8::is_ascii_whitespace) && args.reply_to.is_some() {
                String::new()
            } else {
                let input = decode(&buf, "standard input")?;
                input.warnings.iter().for_each(|w| eprintln!("frugal: warning: {w}"));
                input.text
            }
        }
        None => String::new(),
    };
    let reply_to = match &args.reply_to {
        Some(path) => {
            let input = read_input(path)?;
            input.warnings.iter().for_each(|w| eprintln!("frugal: warning: {w}"));
            let email = parse_email(&input.text);
            if email.body.trim().is_empty() {
                anyhow::bail!("{} has no message text to reply to", path.display());
            }
            Some(email)
        }
        None => None,
    };
    if notes.trim().is_empty() && reply_to.is_none() {
        anyhow::bail!("the notes are empty: say what the email should contain");
    }
    let assistant = g.open()?;
    let mut task = DraftTask {
        notes,
        reply_to,
        tone: args.tone,
        length: args.length,
        seed: args.seed,
        related: Default::default(),
    };
    if let Some(email) = &task.reply_to {
        // Related notes help; their absence (or a broken index) must not stop the draft.
        match assistant.draft_context(email, args.reply_to.as_deref()) {
            Ok(g) => task.related = g,
            Err(e) => eprintln!("frugal: warning: related notes skipped: {e}"),
        }
        super::index_notice(&assistant);
    }
    let cancel = CancelToken::new();
    let handler = cancel.clone();
    ctrlc::set_handler(move || handler.cancel()).context("cannot install the Ctrl-C handler")?;

    if !json && !g.route.dry_run {
        if let Some(e) = &task.reply_to {
            let subject = e.subject.clone().unwrap_or_default();
            let re = if subject.to_lowercase().starts_with("re:") { subject } else { format!("Re: {subject}") };
            println!("Subject: {re}\n");
        }
    }
    let stdout = std::io::stdout();
    let mut filter = ChatterFilter::default();
    let result = assistant.draft(&task, args.reply_to.as_deref(), &g.route, &cancel, &mut |e| match e {
        Event::Text(t) if !json => {
            let mut out = stdout.lock();
            let _ = out.write_all(filter.push(t).as_bytes());
            let _ = out.flush();
        }
        Event::Status(s) => {
            eprintln!("\nfrugal: {s}");
            filter = ChatterFilter::default();
        }
        _ => {}
    });
    if !json && !g.route.dry_run {
        print!("{}", filter.finish());
        println!();
    }
    let Some(routed) = super::unless_cancelled(result)? else {
        return Ok(ExitCode::from(super::CANCELLED));
    };
    let ((draft, quality), route) = match routed {
        Routed::Done(done, route) => (done, route),
        Routed::DryRun(d) => return super::print_dry_run(&d),
        Routed::Queued(_, route) => {
            // The local draft (streamed above, if any) stands meanwhile.
            eprintln!(
                "frugal: {}; the cloud's draft, checked against your notes, is shown by `frugal batches` when it is back",
                route.note.as_deref().unwrap_or("queued")
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json {
        super::print_json(&serde_json::json!({
            "subject": draft.subject,
            "body": draft.body,
            "quality": quality,
            "related": task.related.sources,
            "run_id": route.run_id,
            "route": route,
        }))?;
    }
    super::print_route(&assistant, &route);
    if !json && !task.related.sources.is_empty() {
        eprintln!("frugal: used {} related passage(s) from your files:", task.related.sources.len());
        for r in &task.related.sources {
            eprintln!("  [{}] {}", r.n, r.location());
        }
    }
    super::print_verdict(&assistant, "this draft", &quality, &route, || {
        super::cloud_estimate(g, |o| {
            assistant.draft(&task, args.reply_to.as_deref(), o, &CancelToken::new(), &mut |_| {})
        })
    });
    Ok(ExitCode::SUCCESS)
}
