//! What "Ask cloud" would cost, on the button before anything is sent: each task's dry run on
//! the cloud route, with what is left of the month's budget.

use std::path::PathBuf;

use frugal_core::ledger::usd;
use frugal_core::llm::CancelToken;
use frugal_core::{Assistant, RouteOptions, Routed};
use tauri::State;

use crate::commands::{blocking, draft_task, month};
use crate::error::{CmdResult, CommandError};
use crate::state::AppState;
use crate::views::EstimateView;

/// The cloud run a task would make, never sent.
fn cloud_dry_run() -> RouteOptions {
    RouteOptions { cloud: true, dry_run: true, ..Default::default() }
}

fn view<T>(a: &Assistant, routed: Routed<T>) -> CmdResult<EstimateView> {
    match routed {
        Routed::DryRun(d) => Ok(EstimateView {
            provider: d.provider,
            model: d.model,
            estimated_usd: d.estimated_usd,
            worst_case_usd: d.worst_case_usd,
            remaining_usd: a.spend().report(month(None)?)?.remaining_micros.map(usd),
        }),
        Routed::Done(..) | Routed::Queued(..) => Err(CommandError::new("internal", "the estimate ran the task")),
    }
}

/// What asking the cloud for this draft would cost.
#[tauri::command]
#[specta::specta]
pub async fn draft_estimate(state: State<'_, AppState>, text: String, tone: String) -> CmdResult<EstimateView> {
    let a = state.assistant();
    blocking(move || {
        let task = draft_task(&text, &tone)?;
        let routed = a.draft(
            &task,
            None,
            &RouteOptions { dry_run: true, ..Default::default() },
            &CancelToken::new(),
            &mut |_| {},
        )?;
        view(&a, routed)
    })
    .await
}

/// What summarizing this transcript on the cloud would cost.
#[tauri::command]
#[specta::specta]
pub async fn summary_estimate(state: State<'_, AppState>, path: String) -> CmdResult<EstimateView> {
    let a = state.assistant();
    blocking(move || {
        // A recording is summarized through its transcript beside it.
        let mut path = PathBuf::from(path);
        if frugal_core::transcribe::is_audio(&path) {
            path = frugal_core::speech::transcript_path(&path);
        }
        let input = frugal_core::input::read_input(&path)?;
        let routed = a.summarize(&input, &cloud_dry_run(), &CancelToken::new(), &mut |_| {}, &mut |_| {})?;
        view(&a, routed)
    })
    .await
}

/// What asking the cloud this question would cost.
#[tauri::command]
#[specta::specta]
pub async fn ask_estimate(state: State<'_, AppState>, question: String) -> CmdResult<EstimateView> {
    let a = state.assistant();
    blocking(move || {
        let routed = a.ask(&question, &cloud_dry_run(), &CancelToken::new(), &mut |_| {})?;
        view(&a, routed)
    })
    .await
}
