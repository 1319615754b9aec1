//! The cloud's cost levers in the tray: what caching, batching and local KV reuse saved this
//! month (shown in Spend review), the batches waiting for their results (listed there, each
//! cancellable), and the poller that settles them and says so in a notification.

use std::time::Duration;

use frugal_core::ledger::{usd, BatchRow, LeverSavings};
use serde::Serialize;
use specta::Type;
use tauri::State;

use crate::commands::blocking;
use crate::error::CmdResult;
use crate::state::AppState;

/// What each lever saved this month.
#[derive(Clone, Debug, Serialize, Type)]
pub struct LeversView {
    /// Cloud prompt caching (reads at the cached rate, minus the write premium).
    pub cache_usd: f64,
    pub cache_read_tokens: f64,
    pub cache_write_tokens: f64,
    /// The batch price's discount.
    pub batch_usd: f64,
    pub batch_requests: u32,
    /// Local KV reuse, at the reference cloud price.
    pub local_reuse_usd: f64,
    pub local_reused_tokens: f64,
    /// Context pruning, at the answering model's input price.
    pub pruned_usd: f64,
    pub pruned_tokens: f64,
}

impl LeversView {
    pub fn new(l: &LeverSavings) -> Self {
        Self {
            cache_usd: usd(l.cache_micros),
            cache_read_tokens: l.cache_read_tokens as f64,
            cache_write_tokens: l.cache_write_tokens as f64,
            batch_usd: usd(l.batch_micros),
            batch_requests: u32::try_from(l.batch_requests).unwrap_or(u32::MAX),
            local_reuse_usd: usd(l.local_reuse_micros),
            local_reused_tokens: l.local_reused_tokens as f64,
            pruned_usd: usd(l.pruned_micros),
            pruned_tokens: l.pruned_tokens as f64,
        }
    }
}

/// One batch, as Spend review lists it.
#[derive(Clone, Debug, Serialize, Type)]
pub struct BatchView {
    pub id: u32,
    pub state: String,
    /// Whether it still waits for its results (and can be cancelled).
    pub open: bool,
    pub task: String,
    pub provider: String,
    pub requests: u32,
    pub reserved_usd: f64,
    pub expected_usd: f64,
    pub cost_usd: f64,
    pub saved_usd: f64,
    pub submitted_at: String,
    pub note: Option<String>,
}

impl BatchView {
    fn new(b: &BatchRow) -> Self {
        Self {
            id: u32::try_from(b.id).unwrap_or(u32::MAX),
            state: b.state.as_str().into(),
            open: b.state.is_open(),
            task: b.task.clone(),
            provider: b.provider.clone(),
            requests: u32::try_from(b.requests).unwrap_or(u32::MAX),
            reserved_usd: usd(b.reserved_micros),
            expected_usd: usd(b.expected_micros),
            cost_usd: usd(b.cost_micros),
            saved_usd: usd(b.saved_micros),
            submitted_at: b.submitted_at.clone(),
            note: b.note.clone(),
        }
    }
}

/// Batches waiting, and those of the last week.
#[tauri::command]
#[specta::specta]
pub async fn batches(state: State<'_, AppState>) -> CmdResult<Vec<BatchView>> {
    let a = state.assistant();
    blocking(move || Ok(a.router().batches(7)?.iter().map(BatchView::new).collect())).await
}

/// Cancels a pending batch: what the provider already ran stays billed, the rest is released.
#[tauri::command]
#[specta::specta]
pub async fn cancel_batch(state: State<'_, AppState>, id: u32) -> CmdResult<BatchView> {
    let (a, shell) = (state.assistant(), state.shell());
    blocking(move || {
        let row = a.router().cancel_batch(i64::from(id))?;
        let news = a.poll_batches()?;
        for line in &news.finished {
            shell.notify("Batch finished", first_line(line));
        }
        shell.spend_changed();
        let row = a.router().batches(7)?.into_iter().find(|b| b.id == row.id).unwrap_or(row);
        Ok(BatchView::new(&row))
    })
    .await
}

/// A notification says what happened, not a whole draft or answer (those are kept in the
/// data folder and shown by `frugal batches`).
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// One round of the poller: settles the batches that ended, with a notification each.
pub fn poll_once(state: &AppState) {
    let a = state.assistant();
    let open = a.router().batches(0).map(|b| b.iter().any(|b| b.state.is_open())).unwrap_or(false);
    if !open {
        return;
    }
    match a.poll_batches() {
        Ok(news) => {
            for line in &news.finished {
                state.shell().notify("Batch finished", first_line(line));
            }
            if !news.finished.is_empty() {
                state.shell().spend_changed();
            }
        }
        Err(e) => eprintln!("frugal-app: batches not polled: {e}"),
    }
}

/// Polls every `every` for the life of the app (a glance at the ledger when nothing waits).
pub fn spawn_poller<R: tauri::Runtime>(app: tauri::AppHandle<R>, every: Duration) {
    use tauri::Manager;
    let _ = std::thread::Builder::new().name("frugal-batches".into()).spawn(move || loop {
        poll_once(&app.state::<AppState>());
        std::thread::sleep(every);
    });
}
