//! The windows' half of "dollars per useful outcome": what the user did with each answer goes
//! to the ledger against its run id, and a failed answer arrives marked, its problems in plain
//! words and the next steps offered.
//!
//! The web view says the uses (copied, pasted back, saved) and the moves (regenerated, asked
//! the cloud instead). Dismissals are noticed here, where they cannot be missed: an answer that
//! is replaced in its window, or whose window closes, without any outcome said for it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use frugal_core::ledger::{usd, Feedback, OutcomeReport, UsefulSpend};
use frugal_core::verdict::{NextStep, Verdict};
use serde::Serialize;
use specta::Type;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::shell::Window;
use crate::state::AppState;
use crate::views::n32;

/// A failed answer's problems and the ways to a better one.
#[derive(Clone, Debug, Default, Serialize, Type)]
pub struct VerdictView {
    pub failed: bool,
    /// Each the rest of a sentence about the answer: "mentions \"Leeds\", which is not in
    /// your notes".
    pub problems: Vec<String>,
    pub next: Vec<NextStepView>,
}

/// `ask_cloud`, `add_provider` or `pull_model` (then `model` and `label` say which).
#[derive(Clone, Debug, Serialize, Type)]
pub struct NextStepView {
    pub kind: String,
    pub model: Option<String>,
    /// The button's words.
    pub label: String,
}

impl From<&Verdict> for VerdictView {
    fn from(v: &Verdict) -> Self {
        let next = v
            .next
            .iter()
            .map(|s| match s {
                NextStep::AskCloud => {
                    NextStepView { kind: "ask_cloud".into(), model: None, label: "Ask the cloud".into() }
                }
                NextStep::AddProvider => {
                    NextStepView { kind: "add_provider".into(), model: None, label: "Add a cloud provider".into() }
                }
                NextStep::PullModel { name, display, installed } => NextStepView {
                    kind: "pull_model".into(),
                    model: Some(name.clone()),
                    label: format!(
                        "{} {display}, the model recommended for this machine",
                        if *installed { "Use" } else { "Get" }
                    ),
                },
            })
            .collect();
        Self { failed: v.failed, problems: v.problems.clone(), next }
    }
}

/// Useful outcomes of one task or route in Spend review.
#[derive(Clone, Debug, Serialize, Type)]
pub struct UsefulView {
    pub name: String,
    pub rated: u32,
    pub useful: u32,
    pub cost_usd: f64,
    pub cost_per_useful_usd: Option<f64>,
}

/// The month's useful outcomes: the product's own metric.
#[derive(Clone, Debug, Serialize, Type)]
pub struct OutcomesView {
    pub rated_runs: u32,
    pub useful: u32,
    pub cost_per_useful_usd: Option<f64>,
    pub local_share_of_useful: f64,
    /// Escalations whose cloud answer was then used.
    pub escalations_used: u32,
    pub by_task: Vec<UsefulView>,
    pub by_route: Vec<UsefulView>,
}

fn useful_view(s: &UsefulSpend) -> UsefulView {
    UsefulView {
        name: s.name.clone(),
        rated: n32(s.rated),
        useful: n32(s.useful),
        cost_usd: usd(s.cost_micros),
        cost_per_useful_usd: s.cost_per_useful_micros.map(usd),
    }
}

impl From<&OutcomeReport> for OutcomesView {
    fn from(r: &OutcomeReport) -> Self {
        Self {
            rated_runs: n32(r.rated_runs),
            useful: n32(r.useful),
            cost_per_useful_usd: r.cost_per_useful_micros.map(usd),
            local_share_of_useful: r.local_share_of_useful,
            escalations_used: n32(r.escalations_used),
            by_task: r.by_task.iter().map(useful_view).collect(),
            by_route: r.by_route.iter().map(useful_view).collect(),
        }
    }
}

/// The answer on screen in each window that nothing has been recorded for yet.
#[derive(Default)]
pub struct Unused(Mutex<HashMap<&'static str, String>>);

impl Unused {
    /// `run_id` is now on screen in `window`; returns the answer it replaced unused.
    pub fn shown(&self, window: Window, run_id: &str) -> Option<String> {
        if run_id.is_empty() {
            return None;
        }
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(window.label(), run_id.to_string())
    }

    /// Something was recorded for `run_id`: it is no longer unused anywhere.
    pub fn recorded(&self, run_id: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, r| r != run_id);
    }

    /// `label`'s window closed: its unused answer, if any.
    pub fn closed(&self, label: &str) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(label)
    }
}

impl AppState {
    /// Records `feedback` for `run_id` in the ledger; a dismissal that cannot be written is
    /// not worth an error in the user's face, so callers of the automatic ones ignore it.
    pub fn record_outcome(&self, run_id: &str, feedback: Feedback) -> CmdResult<()> {
        self.unused().recorded(run_id);
        self.assistant().spend().record_feedback(run_id, feedback, None)?;
        self.shell().spend_changed();
        Ok(())
    }

    /// A window shows a new answer: the one it replaces, never used, was dismissed.
    pub fn answer_shown(&self, window: Window, run_id: &str) {
        if let Some(old) = self.unused().shown(window, run_id).filter(|old| old != run_id) {
            let _ = self.record_outcome(&old, Feedback::Dismissed);
        }
    }

    /// A window closed: the answer it showed, never used, was dismissed.
    pub fn window_closed(&self, label: &str) {
        if let Some(old) = self.unused().closed(label) {
            let _ = self.record_outcome(&old, Feedback::Dismissed);
        }
    }
}

/// Records what the user did with an answer: `copied`, `pasted`, `saved`, `regenerated`,
/// `cloud_instead`, `dismissed`, `good` or `bad`.
#[tauri::command]
#[specta::specta]
pub async fn record_outcome(state: State<'_, AppState>, run_id: String, outcome: String) -> CmdResult<()> {
    let feedback = Feedback::parse(&outcome)
        .ok_or_else(|| CommandError::new("input", format!("`{outcome}` is not an outcome")))?;
    if run_id.trim().is_empty() {
        return Err(CommandError::new("input", "this answer has no run id: nothing was asked of a model"));
    }
    state.record_outcome(run_id.trim(), feedback)
}
