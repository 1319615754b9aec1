//! Where a batched answer goes once its batch is back. Every answer is checked as a live one
//! is, by its own task: a meeting summary against its transcript (then written beside it as
//! `NAME.summary.md`), a draft against its notes and the email it answers, an `ask` answer
//! against its sources (both kept in the data folder and shown by `frugal batches`); an
//! eval's answer goes into the eval cache instead, for the eval's next run to grade. Says
//! what became of each: one line, and for a kept draft or answer its text after it.

use std::path::Path;

use frugal_eval::Answer;

use crate::batches::{BatchAnswer, Delivery};
use crate::tasks::{ask, check_answer, draft, summarize, Quality};

/// Delivers one batched answer; says what became of it.
pub(crate) fn deliver(delivery: &Delivery, batched: &BatchAnswer, answers_dir: &Path) -> String {
    let text = batched.text.as_str();
    match delivery {
        Delivery::Summary { transcript, output } => match summary(transcript, text) {
            Ok(report) => write_summary(&report, output)
                .unwrap_or_else(|why| format!("{why}; {}", save(answers_dir, &name(batched), &report.to_markdown()))),
            Err(why) => format!("the cloud's summary of {} was unusable: {why}", transcript.display()),
        },
        Delivery::Answer { task, spec } => {
            let checked = match task.as_str() {
                "ask" => ask_text(spec, text),
                "draft" => draft_text(spec, text),
                other => Err(format!("a batched {other} cannot be delivered")),
            };
            match checked {
                Ok(shown) => save(answers_dir, &name(batched), &shown),
                Err(why) => format!("the cloud's {task} was unusable: {why}"),
            }
        }
        Delivery::Eval { answer, cache_file } => match eval_answer(answer, text) {
            Ok(mut a) => {
                a.cost_usd = frugal_ledger::usd(batched.cost_micros);
                a.latency_ms = batched.latency_ms;
                if let Some(o) = a.json.as_mut().and_then(|j| j.as_object_mut()) {
                    o.insert("run_id".into(), batched.run_id.clone().into());
                    o.insert("batch".into(), batched.batch_id.into());
                }
                cache(cache_file, a, batched)
            }
            Err(why) => format!("an eval's answer was unusable: {why}"),
        },
    }
}

/// A summary from a batched answer, checked against its transcript.
fn summary(transcript: &Path, text: &str) -> Result<summarize::SummaryReport, String> {
    let input = crate::input::read_input(transcript).map_err(|e| e.to_string())?;
    let parsed = crate::transcript::parse(&input.text, input.extension.as_deref());
    summarize::from_answer(&parsed, text)
}

/// Writes the summary beside its meeting; `Err` says why it could not (the caller keeps the
/// paid answer elsewhere).
fn write_summary(report: &summarize::SummaryReport, output: &Path) -> Result<String, String> {
    let mut text = report.to_markdown();
    if !report.quality.passed {
        text.push_str(&format!("\n_The cloud answer failed checks: {}._\n", failed(&report.quality)));
    }
    let part = output.with_extension("md.part");
    match std::fs::write(&part, text).and_then(|()| std::fs::rename(&part, output)) {
        Ok(()) => Ok(format!("summary written to {}", output.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(format!("the summary could not be written to {}: {e}", output.display()))
        }
    }
}

/// A kept answer's file name: its batch, then its request (`3-frugal-41`), so `frugal batches`
/// finds a batch's answers.
fn name(batched: &BatchAnswer) -> String {
    format!("{}-{}", batched.batch_id, batched.custom_id)
}

/// A batched `ask` answer checked against its sources, as `frugal ask` reports one.
fn ask_report(spec: &serde_json::Value, text: &str) -> Result<ask::AskReport, String> {
    let task: ask::AskTask = serde_json::from_value(spec.clone()).map_err(|e| e.to_string())?;
    let (answer, quality) = check_answer(&task, text)?;
    Ok(ask::AskReport::checked(task, answer, quality))
}

/// A batched draft checked against its notes and the email it answers.
fn draft_checked(spec: &serde_json::Value, text: &str) -> Result<(draft::Draft, Quality), String> {
    let task: draft::DraftTask = serde_json::from_value(spec.clone()).map_err(|e| e.to_string())?;
    let ((d, _), quality) = check_answer(&task, text)?;
    Ok((d, quality))
}

fn ask_text(spec: &serde_json::Value, text: &str) -> Result<String, String> {
    let r = ask_report(spec, text)?;
    Ok(match &r.answer {
        Some(a) => {
            let mut out = format!("{}\n\n{}\n\nSources:\n", r.question, a.trim());
            for s in &r.cited {
                out.push_str(&format!("[{}] {} ({})\n", s.n, s.title, s.location()));
            }
            out
        }
        None if r.rejected.is_none() => format!("{}\n\nThe sources do not say.\n", r.question),
        None => format!(
            "{}\n\nThe cloud's answer failed its checks ({}): not shown as an answer.\n",
            r.question,
            failed(&r.quality)
        ),
    })
}

fn draft_text(spec: &serde_json::Value, text: &str) -> Result<String, String> {
    let (d, quality) = draft_checked(spec, text)?;
    let mut out = format!("Subject: {}\n\n{}\n", d.subject, d.body.trim());
    if !quality.passed {
        out.push_str(&format!("\n_The cloud's draft failed its checks: {}._\n", failed(&quality)));
    }
    Ok(out)
}

/// An eval's answer, as the eval makes it from a live run of the same task.
fn eval_answer(how: &Delivery, text: &str) -> Result<Answer, String> {
    match how {
        Delivery::Summary { transcript, .. } => Ok(crate::eval::summary_answer(&summary(transcript, text)?)),
        Delivery::Answer { task, spec } if task == "ask" => Ok(crate::eval::ask_answer(&ask_report(spec, text)?)),
        Delivery::Answer { task, spec } if task == "draft" => {
            let (d, quality) = draft_checked(spec, text)?;
            Ok(crate::eval::draft_answer(&d, &quality))
        }
        _ => Err("this answer has no eval form".into()),
    }
}

/// Puts an eval's answer in its cache file; says so.
fn cache(cache_file: &Path, answer: Answer, batched: &BatchAnswer) -> String {
    let c = crate::eval::Cached { answer, model: batched.model.clone(), tokens: batched.tokens };
    match crate::eval::write_cached(cache_file, &c) {
        Ok(()) => "an eval's answer is cached; run the eval again to grade it".to_string(),
        Err(e) => format!("an eval's answer could not be cached in {}: {e}", cache_file.display()),
    }
}

fn failed(q: &Quality) -> String {
    q.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Keeps a delivered answer in the data folder; says where, then what it says (the first
/// line is the notification's, the rest for the terminal).
fn save(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(format!("{name}.md"));
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => format!("kept in {}:\n{}", path.display(), text.trim_end()),
        Err(e) => format!("could not be kept in {} ({e}):\n{}", path.display(), text.trim_end()),
    }
}
