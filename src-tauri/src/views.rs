//! What crosses to the web view. The shell's own types, mapped from core's, so the generated
//! TypeScript stays small and stable: money as dollars (`f64`), counts as `u32` (JavaScript
//! numbers), paths as strings.

use std::collections::HashMap;

use frugal_core::ledger::{usd, Feedback, MonthReport, Row};
use frugal_core::RouteReport;
use serde::Serialize;
use specta::Type;

pub use crate::outcomes::{OutcomesView, VerdictView};

pub(crate) fn n32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The tray's and every window's header: what the app is doing and what it has spent.
#[derive(Clone, Debug, Serialize, Type)]
pub struct AppStatus {
    pub version: String,
    pub model: Option<String>,
    pub month: String,
    pub spent_usd: f64,
    pub cap_usd: Option<f64>,
    pub remaining_usd: Option<f64>,
    pub folders: u32,
    pub providers: u32,
    pub paused: bool,
    pub hotkey: String,
    /// "This month: $3.20 of $20".
    pub tray_label: String,
}

/// How an answer was served.
#[derive(Clone, Debug, Default, Serialize, Type)]
pub struct RouteView {
    pub route: String,
    pub provider: String,
    pub model: String,
    pub cost_usd: f64,
    pub escalated: Option<String>,
    pub note: Option<String>,
    /// What the window records the answer's outcome against.
    pub run_id: String,
}

impl From<&RouteReport> for RouteView {
    fn from(r: &RouteReport) -> Self {
        Self {
            route: r.route.into(),
            provider: r.provider.clone(),
            model: r.model.clone(),
            cost_usd: r.cost_usd,
            escalated: r.escalated.clone(),
            note: r.note.clone(),
            run_id: r.run_id.clone(),
        }
    }
}

/// One piece of a long job, streamed to the window: model text, a status line, or progress.
#[derive(Clone, Debug, Serialize, Type)]
pub struct StreamEvent {
    /// `text`, `status` or `progress`.
    pub kind: String,
    pub text: String,
    pub done: u32,
    pub total: u32,
}

impl StreamEvent {
    pub fn text(t: &str) -> Self {
        Self { kind: "text".into(), text: t.into(), done: 0, total: 0 }
    }
    pub fn status(t: &str) -> Self {
        Self { kind: "status".into(), text: t.into(), done: 0, total: 0 }
    }
    pub fn progress(done: usize, total: usize, text: &str) -> Self {
        Self { kind: "progress".into(), text: text.into(), done: n32(done as u64), total: n32(total as u64) }
    }
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct CheckView {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The checks of a task's quality signal.
pub fn checks(q: &frugal_core::tasks::Quality) -> Vec<CheckView> {
    q.checks.iter().map(|c| CheckView { name: c.name.into(), passed: c.passed, detail: c.detail.clone() }).collect()
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct DraftView {
    pub subject: String,
    pub body: String,
    pub passed: bool,
    pub checks: Vec<CheckView>,
    pub verdict: VerdictView,
    pub route: RouteView,
}

/// What "Ask cloud" would cost, shown on the button before anything is sent.
#[derive(Clone, Debug, Serialize, Type)]
pub struct EstimateView {
    pub provider: String,
    pub model: String,
    pub estimated_usd: f64,
    pub worst_case_usd: f64,
    pub remaining_usd: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct SourceView {
    pub n: u32,
    pub path: String,
    pub line: u32,
    pub title: String,
    pub local_only: bool,
}

impl From<&frugal_core::grounding::Source> for SourceView {
    fn from(s: &frugal_core::grounding::Source) -> Self {
        Self {
            n: n32(s.n as u64),
            path: s.path.display().to_string(),
            line: s.line_start,
            title: s.title.clone(),
            local_only: s.local_only,
        }
    }
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct AskView {
    pub verdict: VerdictView,
    pub found: bool,
    pub answer: Option<String>,
    pub cited: Vec<SourceView>,
    pub sources: Vec<SourceView>,
    pub route: RouteView,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct ActionItemView {
    pub owner: String,
    pub task: String,
    pub due: Option<String>,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct SummaryView {
    pub source: String,
    pub summary: String,
    pub decisions: Vec<String>,
    pub action_items: Vec<ActionItemView>,
    pub open_questions: Vec<String>,
    pub markdown: String,
    pub passed: bool,
    pub verdict: VerdictView,
    pub route: RouteView,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct FolderView {
    pub path: String,
    pub local_only: bool,
    pub exists: bool,
    pub files: u32,
    pub passages: u32,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct SkippedView {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct IndexView {
    pub folders: Vec<FolderView>,
    pub skipped: Vec<SkippedView>,
    pub files: u32,
    pub passages: u32,
    pub paused: bool,
    /// Search by meaning in one line: how many passages have vectors, or why it is off.
    pub meaning: String,
}

impl IndexView {
    pub fn from_status(s: &frugal_core::index::Status, m: &frugal_core::meaning::MeaningStatus, paused: bool) -> Self {
        let meaning = match (&m.problem, m.enabled) {
            (_, false) => "search by meaning is off".to_string(),
            (Some(p), _) => p.clone(),
            (None, _) if m.ready >= m.passages => "search by meaning: every passage ready".to_string(),
            (None, _) => format!(
                "search by meaning: {} % of passages ready{} ({})",
                m.ready * 100 / m.passages.max(1),
                if m.quick > 0 {
                    format!(", {} % more through quick vectors", (m.quick * 100).div_ceil(m.passages.max(1)))
                } else {
                    String::new()
                },
                if paused { "paused with indexing" } else { "embedding in the background" }
            ),
        };
        Self {
            folders: s
                .folders
                .iter()
                .map(|f| FolderView {
                    path: f.path.display().to_string(),
                    local_only: f.local_only,
                    exists: f.exists,
                    files: n32(f.files),
                    passages: n32(f.passages),
                })
                .collect(),
            skipped: s
                .skipped
                .iter()
                .map(|k| SkippedView { path: k.path.display().to_string(), reason: k.reason.clone() })
                .collect(),
            files: n32(s.files),
            passages: n32(s.passages),
            paused,
            meaning,
        }
    }
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct ProviderView {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub model: String,
    pub tier: String,
    pub needs_key: bool,
    /// `keychain`, `environment`, or null when there is none.
    pub key: Option<String>,
    /// Why the keychain could not be read, if it could not.
    pub key_error: Option<String>,
    /// The model's price in USD per million tokens (input, output), or null when none is
    /// known (then the provider is never called).
    pub price_in_usd: Option<f64>,
    pub price_out_usd: Option<f64>,
    /// Why there is no price, if there is none.
    pub price_error: Option<String>,
}

/// A provider to add from Settings → Providers.
#[derive(Clone, Debug, serde::Deserialize, Type)]
pub struct NewProvider {
    pub name: String,
    /// `openai` (any OpenAI-compatible server) or `anthropic`.
    pub kind: String,
    pub base_url: String,
    pub model: String,
    /// `economy` or `premium`.
    pub tier: String,
    pub needs_key: bool,
    /// The key, stored in the keychain (never in the config); empty for none.
    pub key: String,
    /// USD per million input and output tokens, for a model without a list price.
    pub price_in_usd: Option<f64>,
    pub price_out_usd: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct BudgetView {
    pub monthly_usd: Option<f64>,
    pub daily_usd: Option<f64>,
    pub per_request_usd: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct HardwareView {
    pub cpu: String,
    pub cores: u32,
    pub ram_gb: f64,
    pub gpus: Vec<String>,
    pub model: Option<String>,
    pub context: u32,
    pub threads: u32,
    /// The plan's choices, each with its reason.
    pub plan: Vec<String>,
    /// Why there is no plan, if there is none.
    pub problem: Option<String>,
}

/// A catalog model: does it fit here, is it downloaded, is it the one in use.
#[derive(Clone, Debug, Serialize, Type)]
pub struct ModelView {
    pub name: String,
    pub display: String,
    /// "llm", "speech" or "embedding".
    pub kind: String,
    /// Made by `scripts/setup.sh` (converted from a PyPI wheel), not downloadable.
    pub made_by_setup: bool,
    pub tier: String,
    pub size_gb: f64,
    pub installed: bool,
    pub in_use: bool,
    pub fits: bool,
    pub recommended: bool,
    pub reason: String,
}

impl From<&frugal_core::CatalogFit> for ModelView {
    fn from(f: &frugal_core::CatalogFit) -> Self {
        Self {
            name: f.entry.name.clone(),
            display: f.entry.display.clone(),
            kind: f.entry.kind.as_str().to_string(),
            made_by_setup: f.entry.made_by_setup.is_some(),
            tier: f.entry.tier.clone(),
            size_gb: f.entry.size as f64 / 1e9,
            installed: f.installed,
            in_use: f.in_use,
            fits: f.fits,
            recommended: f.recommended,
            reason: f.reason.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct PolicyView {
    pub task: String,
    pub escalate: String,
    pub max_tier: String,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct SettingsView {
    pub hardware: HardwareView,
    pub providers: Vec<ProviderView>,
    pub budget: BudgetView,
    pub policies: Vec<PolicyView>,
    pub hotkey: String,
    /// New transcripts saved here are summarized on their own.
    pub meetings_folder: Option<String>,
    pub config_file: String,
    pub ledger_file: String,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct ProviderSpendView {
    pub route: String,
    pub provider: String,
    pub model: String,
    pub requests: u32,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct TaskSpendView {
    pub task: String,
    pub runs: u32,
    pub requests: u32,
    pub local_requests: u32,
    pub cloud_requests: u32,
    pub cost_usd: f64,
    pub cost_per_run_usd: f64,
}

/// One gateway app's month (`app` "Frugal" for the app's own tasks).
#[derive(Clone, Debug, Serialize, Type)]
pub struct AppMonthView {
    pub app: String,
    pub requests: u32,
    pub local_requests: u32,
    pub refused: u32,
    pub cost_usd: f64,
    pub saved_usd: f64,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct DayView {
    pub day: String,
    pub provider: String,
    pub cost_usd: f64,
    pub requests: u32,
}

#[derive(Clone, Debug, Serialize, Type)]
pub struct RowView {
    pub started_at: String,
    pub task: String,
    pub route: String,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_usd: f64,
    pub outcome: String,
    pub escalation: Option<String>,
    /// What the user did with the run's answer (`copied`, `dismissed`, …), if recorded.
    pub used: Option<String>,
}

/// The spend review: the month's report and its rows.
#[derive(Clone, Debug, Serialize, Type)]
pub struct SpendView {
    pub month: String,
    pub cap_usd: Option<f64>,
    pub spent_usd: f64,
    pub reserved_usd: f64,
    pub remaining_usd: Option<f64>,
    pub projected_usd: Option<f64>,
    pub requests: u32,
    pub local_requests: u32,
    pub cloud_requests: u32,
    pub refused: u32,
    pub failed: u32,
    pub local_share: f64,
    pub saved_usd: f64,
    pub all_cloud_usd: f64,
    pub completed_runs: u32,
    pub cost_per_task_usd: Option<f64>,
    pub by_provider: Vec<ProviderSpendView>,
    pub by_task: Vec<TaskSpendView>,
    /// By gateway app; empty when no app called the gateway this month.
    pub by_app: Vec<AppMonthView>,
    pub daily: Vec<DayView>,
    pub outcomes: OutcomesView,
    /// What each cost lever saved this month.
    pub levers: crate::levers::LeversView,
    pub rows: Vec<RowView>,
}

impl SpendView {
    pub fn new(r: &MonthReport, rows: &[Row], used: &HashMap<String, Feedback>) -> Self {
        Self {
            month: r.month.clone(),
            cap_usd: r.cap_micros.map(usd),
            spent_usd: usd(r.spent_micros),
            reserved_usd: usd(r.reserved_micros),
            remaining_usd: r.remaining_micros.map(usd),
            projected_usd: r.projected_micros.map(usd),
            requests: n32(r.requests),
            local_requests: n32(r.local_requests),
            cloud_requests: n32(r.cloud_requests),
            refused: n32(r.refused),
            failed: n32(r.failed),
            local_share: r.local_share,
            saved_usd: usd(r.saved_micros),
            all_cloud_usd: usd(r.all_cloud_micros),
            completed_runs: n32(r.completed_runs),
            cost_per_task_usd: r.cost_per_completed_run_micros.map(usd),
            by_provider: r
                .by_provider
                .iter()
                .map(|p| ProviderSpendView {
                    route: p.route.as_str().into(),
                    provider: p.provider.clone(),
                    model: p.model.clone(),
                    requests: n32(p.requests),
                    cost_usd: usd(p.cost_micros),
                })
                .collect(),
            by_task: r
                .by_task
                .iter()
                .map(|t| TaskSpendView {
                    task: t.task.clone(),
                    runs: n32(t.runs),
                    requests: n32(t.requests),
                    local_requests: n32(t.local_requests),
                    cloud_requests: n32(t.cloud_requests),
                    cost_usd: usd(t.cost_micros),
                    cost_per_run_usd: usd(t.cost_per_run_micros),
                })
                .collect(),
            by_app: r
                .by_app
                .iter()
                .map(|a| AppMonthView {
                    app: a.app.clone().unwrap_or_else(|| "Frugal".into()),
                    requests: n32(a.requests),
                    local_requests: n32(a.local_requests),
                    refused: n32(a.refused),
                    cost_usd: usd(a.cost_micros),
                    saved_usd: usd(a.saved_micros),
                })
                .collect(),
            outcomes: (&r.outcomes).into(),
            levers: crate::levers::LeversView::new(&r.levers),
            daily: r
                .daily
                .iter()
                .map(|d| DayView {
                    day: d.day.clone(),
                    provider: d.provider.clone(),
                    cost_usd: usd(d.cost_micros),
                    requests: n32(d.requests),
                })
                .collect(),
            rows: rows
                .iter()
                .rev()
                .map(|r| RowView {
                    started_at: r.started_at.clone(),
                    task: r.task.clone(),
                    route: r.route.as_str().into(),
                    provider: r.provider.clone(),
                    model: r.model.clone(),
                    prompt_tokens: n32(r.prompt_tokens),
                    completion_tokens: n32(r.completion_tokens),
                    cost_usd: usd(r.cost_micros),
                    outcome: r.outcome.map_or("pending", |o| o.as_str()).into(),
                    escalation: r.escalation.clone(),
                    used: used.get(&r.run_id).map(|f| f.as_str().to_string()),
                })
                .collect(),
        }
    }
}
