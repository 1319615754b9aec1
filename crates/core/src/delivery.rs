//! Where a batched answer goes once its batch is back: a meeting summary checked against its
//! transcript (as a live answer is) and written beside it, or an eval's answer put into the
//! eval cache for the next run to grade. Says, in one line, what became of each.

use std::path::Path;

/// Delivers one batched answer; says what became of it.
pub(crate) fn deliver(
    delivery: &crate::batches::Delivery,
    batched: &crate::batches::BatchAnswer,
    answers_dir: &Path,
) -> String {
    let answer = batched.text.as_str();
    match delivery {
        crate::batches::Delivery::Answer { task, spec } => {
            let checked = match task.as_str() {
                "ask" => ask_answer(spec, answer),
                "draft" => draft_answer(spec, answer),
                other => Err(format!("a batched {other} cannot be delivered")),
            };
            match checked {
                Ok(text) => save(answers_dir, &batched.custom_id, &text),
                Err(why) => format!("the cloud's {task} was unusable: {why}"),
            }
        }
        crate::batches::Delivery::EvalAnswer { transcript, cache_file } => eval_answer(transcript, cache_file, batched),
        crate::batches::Delivery::Summary { transcript, output } => {
            let input = match crate::input::read_input(transcript) {
                Ok(i) => i,
                Err(e) => return format!("the summary of {} could not be checked: {e}", transcript.display()),
            };
            let parsed = crate::transcript::parse(&input.text, input.extension.as_deref());
            let report = match crate::tasks::summarize::from_answer(&parsed, answer) {
                Ok(r) => r,
                Err(why) => return format!("the cloud's summary of {} was unusable: {why}", transcript.display()),
            };
            let mut text = report.to_markdown();
            if !report.quality.passed {
                let failed: Vec<&str> = report.quality.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
                text.push_str(&format!("\n_The cloud answer failed checks: {}._\n", failed.join(", ")));
            }
            let part = output.with_extension("md.part");
            match std::fs::write(&part, text).and_then(|()| std::fs::rename(&part, output)) {
                Ok(()) => format!("summary written to {}", output.display()),
                Err(e) => {
                    let _ = std::fs::remove_file(&part);
                    format!("the summary could not be written to {}: {e}", output.display())
                }
            }
        }
    }
}

/// Puts a batched summary into the eval cache (checked against its transcript as a live
/// answer is), for the next run of the eval to grade; says what became of it.
fn eval_answer(transcript: &Path, cache_file: &Path, batched: &crate::batches::BatchAnswer) -> String {
    let parsed = match crate::input::read_input(transcript) {
        Ok(i) => crate::transcript::parse(&i.text, i.extension.as_deref()),
        Err(e) => return format!("the eval answer for {} could not be checked: {e}", transcript.display()),
    };
    let report = match crate::tasks::summarize::from_answer(&parsed, &batched.text) {
        Ok(r) => r,
        Err(why) => return format!("the eval answer for {} was unusable: {why}", transcript.display()),
    };
    let mut answer = crate::eval::summary_answer(&report);
    answer.cost_usd = frugal_ledger::usd(batched.cost_micros);
    let c = crate::eval::Cached { answer, model: batched.model.clone(), tokens: batched.tokens };
    let written = serde_json::to_vec(&c).map_err(|e| e.to_string()).and_then(|bytes| {
        let tmp = cache_file.with_extension("batch.tmp");
        cache_file.parent().map_or(Ok(()), std::fs::create_dir_all).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, cache_file)).map_err(|e| e.to_string())
    });
    match written {
        Ok(()) => format!("the eval answer for {} is cached; run the eval again to grade it", transcript.display()),
        Err(e) => format!("the eval answer for {} could not be cached: {e}", transcript.display()),
    }
}

/// A batched `ask`: the answer with its sources when it passes its checks, else why not.
fn ask_answer(spec: &serde_json::Value, text: &str) -> Result<String, String> {
    let task: crate::tasks::ask::AskTask = serde_json::from_value(spec.clone()).map_err(|e| e.to_string())?;
    let (answer, quality) = crate::tasks::check_answer(&task, text)?;
    if answer.not_found {
        return Ok(format!("{}\n\nThe sources do not say.\n", task.question));
    }
    if !quality.passed {
        return Ok(format!(
            "{}\n\nThe cloud's answer failed its checks ({}): not shown as an answer.\n",
            task.question,
            failed(&quality)
        ));
    }
    let mut out = format!("{}\n\n{}\n\nSources:\n", task.question, answer.text.trim());
    for s in task.grounding.sources.iter().filter(|s| answer.cited.contains(&s.n)) {
        out.push_str(&format!("[{}] {} ({})\n", s.n, s.title, s.location()));
    }
    Ok(out)
}

/// A batched draft, checked against its notes and the email it answers.
fn draft_answer(spec: &serde_json::Value, text: &str) -> Result<String, String> {
    let task: crate::tasks::draft::DraftTask = serde_json::from_value(spec.clone()).map_err(|e| e.to_string())?;
    let ((draft, _), quality) = crate::tasks::check_answer(&task, text)?;
    let mut out = format!("Subject: {}\n\n{}\n", draft.subject, draft.body.trim());
    if !quality.passed {
        out.push_str(&format!("\n_The cloud's draft failed its checks: {}._\n", failed(&quality)));
    }
    Ok(out)
}

fn failed(q: &crate::tasks::Quality) -> String {
    q.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Keeps a delivered answer in the data folder; says where, and what it says.
fn save(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(format!("{name}.md"));
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => format!("kept in {}:\n{}", path.display(), text.trim_end()),
        Err(e) => format!("could not be kept in {} ({e}):\n{}", path.display(), text.trim_end()),
    }
}
