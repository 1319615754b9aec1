//! The commands the web view calls: each a few lines over `frugal-core`. Long work runs on a
//! blocking thread and streams through a `Channel`; errors cross as `{ code, message }`.

use std::path::{Path, PathBuf};

use frugal_core::email::parse_email;
use frugal_core::ledger::{usd, Month};
use frugal_core::llm::{CancelToken, Event};
use frugal_core::tasks::draft::{DraftTask, Length, Tone};
use frugal_core::tasks::summarize::Progress;
use frugal_core::{Assistant, RouteOptions, Routed};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;
use crate::views::*;

/// The default global shortcut for drafting from the selection or the clipboard.
pub const HOTKEY: &str = "CmdOrCtrl+Shift+Space";

/// Checks a global shortcut such as `Ctrl+Alt+D`: it parses and holds a modifier (a bare key
/// taken system-wide would stop the user typing it).
pub fn check_hotkey(text: &str) -> CmdResult<()> {
    use tauri_plugin_global_shortcut::{Modifiers, Shortcut};
    let shortcut: Shortcut =
        text.parse().map_err(|e| CommandError::new("input", format!("`{text}` is not a shortcut: {e}")))?;
    let mods = Modifiers::CONTROL | Modifiers::ALT | Modifiers::SUPER;
    if !shortcut.mods.intersects(mods) {
        return Err(CommandError::new(
            "input",
            format!("`{text}` needs Ctrl, Alt or Super, or it would steal a key from typing"),
        ));
    }
    Ok(())
}

/// Runs blocking core work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> CmdResult<T> + Send + 'static) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| CommandError::new("internal", e))?
}

/// A task's answer; these commands never ask for a dry run.
fn done<T>(routed: Routed<T>) -> CmdResult<(T, frugal_core::RouteReport)> {
    match routed {
        Routed::Done(out, route) => Ok((out, route)),
        Routed::DryRun(_) => Err(CommandError::new("internal", "a dry run where an answer was expected")),
        Routed::Queued(..) => Err(CommandError::new("internal", "a batch where an answer was expected")),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn month(m: Option<&str>) -> CmdResult<Month> {
    Ok(match m.filter(|m| !m.trim().is_empty()) {
        Some(m) => Month::parse(m)?,
        None => Month::containing(now_ms()),
    })
}

/// The header figures, also the tray's "This month" line.
pub fn status_of(assistant: &Assistant, paused: bool) -> CmdResult<AppStatus> {
    let hotkey = assistant.config().app.hotkey.clone().unwrap_or_else(|| HOTKEY.into());
    let report = assistant.spend().report(month(None)?)?;
    let cap = report.cap_micros.map(usd);
    let spent = usd(report.spent_micros);
    let tray_label = match cap {
        Some(c) if c.fract() == 0.0 => format!("This month: ${spent:.2} of ${c:.0}"),
        Some(c) => format!("This month: ${spent:.2} of ${c:.2}"),
        None => format!("This month: ${spent:.2} (no cloud budget)"),
    };
    Ok(AppStatus {
        version: env!("CARGO_PKG_VERSION").into(),
        model: assistant
            .models()
            .model_path()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
        month: report.month,
        spent_usd: spent,
        cap_usd: cap,
        remaining_usd: report.remaining_micros.map(usd),
        folders: assistant.config().index.folders.len() as u32,
        providers: assistant.config().providers.len() as u32,
        paused,
        hotkey,
        tray_label,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn app_status(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    let (a, paused) = (state.assistant(), state.paused());
    blocking(move || status_of(&a, paused)).await
}

fn provider_views(a: &Assistant) -> Vec<ProviderView> {
    a.config()
        .providers
        .iter()
        .map(|p| {
            let (key, key_error) = match frugal_core::secrets::key_for(&p.name) {
                Ok(Some((_, src))) => (Some(format!("{src:?}").to_lowercase()), None),
                Ok(None) => (None, None),
                Err(e) => (None, Some(e.to_string())),
            };
            let (price, price_error) = match a.spend().price_of(p) {
                Ok(price) => (Some(price), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let per_million = |micros: i64| micros as f64 / 1e6;
            ProviderView {
                price_in_usd: price.map(|p| per_million(p.input)),
                price_out_usd: price.map(|p| per_million(p.output)),
                price_error,
                name: p.name.clone(),
                kind: p.kind.as_str().into(),
                base_url: p.base_url.clone(),
                model: p.model.clone(),
                tier: format!("{:?}", p.tier).to_lowercase(),
                needs_key: p.needs_key,
                key,
                key_error,
            }
        })
        .collect()
}

#[tauri::command]
#[specta::specta]
pub async fn settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    let a = state.assistant();
    blocking(move || {
        let hw = a.models().hardware();
        let (model, context, threads, plan, problem) = match a.models().plan() {
            Ok((info, plan)) => (
                Some(info.path.display().to_string()),
                plan.context,
                plan.threads,
                plan.reasons.iter().map(|r| format!("{}: {}", r.topic, r.text)).collect(),
                None,
            ),
            Err(e) => (None, 0, 0, Vec::new(), Some(e.to_string())),
        };
        let c = a.config();
        let policy = |task: &str, p: &frugal_core::config::TaskPolicy| PolicyView {
            task: task.into(),
            escalate: serde_json::to_value(p.escalate)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            max_tier: serde_json::to_value(p.max_tier)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        };
        Ok(SettingsView {
            hardware: HardwareView {
                cpu: hw.cpu.clone(),
                cores: hw.physical_cores,
                ram_gb: hw.total_ram_bytes as f64 / 1e9,
                gpus: hw.gpus.iter().map(|g| g.name.clone()).collect(),
                model,
                context,
                threads,
                plan,
                problem,
            },
            providers: provider_views(&a),
            budget: BudgetView {
                monthly_usd: c.budget.monthly_usd,
                daily_usd: c.budget.daily_usd,
                per_request_usd: c.budget.per_request_usd,
            },
            policies: vec![
                policy("summarize", &c.policy.summarize),
                policy("draft", &c.policy.draft),
                policy("ask", &c.policy.ask),
                policy("chat", &c.policy.chat),
            ],
            hotkey: c.app.hotkey.clone().unwrap_or_else(|| HOTKEY.into()),
            meetings_folder: c.app.meetings_folder.as_ref().map(|p| p.display().to_string()),
            config_file: a.paths().config_file.display().to_string(),
            ledger_file: a.spend().ledger_path().display().to_string(),
        })
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn set_budget(state: State<'_, AppState>, monthly_usd: f64) -> CmdResult<AppStatus> {
    if !(monthly_usd.is_finite() && (0.0..=1_000_000.0).contains(&monthly_usd)) {
        return Err(CommandError::new("input", "the budget must be between $0 and $1,000,000"));
    }
    state.change(|a| a.spend().set_budget(monthly_usd))?;
    state.shell().spend_changed();
    let (a, paused) = (state.assistant(), state.paused());
    blocking(move || status_of(&a, paused)).await
}

/// Sets the daily and per-request caps (null clears one).
#[tauri::command]
#[specta::specta]
pub async fn set_caps(
    state: State<'_, AppState>,
    daily_usd: Option<f64>,
    per_request_usd: Option<f64>,
) -> CmdResult<SettingsView> {
    state.change(|a| a.spend().set_caps(daily_usd, per_request_usd))?;
    state.shell().spend_changed();
    settings(state).await
}

/// Sets one task's escalation: `escalate` is `when_needed`, `never` or `always`; `max_tier`
/// is `economy` or `premium`.
#[tauri::command]
#[specta::specta]
pub async fn set_policy(
    state: State<'_, AppState>,
    task: String,
    escalate: String,
    max_tier: String,
) -> CmdResult<SettingsView> {
    let policy: frugal_core::config::TaskPolicy =
        serde_json::from_value(serde_json::json!({ "escalate": escalate, "max_tier": max_tier }))
            .map_err(|e| CommandError::new("input", format!("not a policy: {e}")))?;
    state.change(|a| a.settings().set_policy(&task, policy))?;
    settings(state).await
}

/// Sets (or, with null, clears) the folder whose new transcripts are summarized on their own.
#[tauri::command]
#[specta::specta]
pub async fn set_meetings_folder(state: State<'_, AppState>, path: Option<String>) -> CmdResult<SettingsView> {
    state.change(|a| a.settings().set_meetings_folder(path.as_deref().map(Path::new)))?;
    settings(state).await
}

/// Whether the app starts at login; `enable` changes it first.
#[tauri::command]
#[specta::specta]
pub async fn autostart(state: State<'_, AppState>, enable: Option<bool>) -> CmdResult<bool> {
    let shell = state.shell();
    blocking(move || shell.autostart(enable).map_err(|e| CommandError::new("internal", e))).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_provider_key(state: State<'_, AppState>, name: String, key: String) -> CmdResult<Vec<ProviderView>> {
    let a = state.assistant();
    blocking(move || {
        let key = frugal_core::cloud::Secret::new(key);
        if key.expose().contains(char::is_whitespace) || key.is_empty() {
            return Err(CommandError::new("input", "paste the key alone, without spaces"));
        }
        frugal_core::secrets::set_key(&name, &key)?;
        Ok(provider_views(&a))
    })
    .await
}

/// A config enum from the name the config file uses for it (`openai`, `premium`, …).
fn config_name<T: serde::de::DeserializeOwned>(name: &str, what: &str, choices: &str) -> CmdResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| CommandError::new("input", format!("no {what} `{name}`: {choices}")))
}

/// Adds a cloud provider from Settings: saved in the config, its key (if given) in the
/// keychain, its price (if given) as a `[[prices]]` entry for it.
#[tauri::command]
#[specta::specta]
pub async fn add_provider(state: State<'_, AppState>, provider: NewProvider) -> CmdResult<Vec<ProviderView>> {
    let kind: frugal_core::cloud::Kind = config_name(&provider.kind, "provider kind", "openai or anthropic")?;
    let tier: frugal_core::config::Tier = config_name(&provider.tier, "tier", "economy or premium")?;
    let price = match (provider.price_in_usd, provider.price_out_usd) {
        (Some(i), Some(o)) => Some((i, o)),
        (None, None) => None,
        _ => {
            return Err(CommandError::new(
                "input",
                "give both prices (input and output per million tokens), or neither",
            ))
        }
    };
    let key = frugal_core::cloud::Secret::new(provider.key);
    if !key.is_empty() && key.expose().contains(char::is_whitespace) {
        return Err(CommandError::new("input", "paste the key alone, without spaces"));
    }
    let entry = frugal_core::config::ProviderEntry {
        name: provider.name.trim().to_string(),
        kind,
        base_url: provider.base_url,
        model: provider.model,
        tier,
        context: None,
        needs_key: provider.needs_key,
        timeout_secs: None,
        idle_secs: None,
        max_retries: None,
    };
    let name = entry.name.clone();
    state.change(move |a| a.settings().add_provider(entry, price))?;
    let a = state.assistant();
    blocking(move || {
        if !key.is_empty() {
            frugal_core::secrets::set_key(&name, &key).map_err(|e| {
                CommandError::new(
                    "keychain",
                    format!("{name} was added but its key was not stored ({e}): save the key again"),
                )
            })?;
        }
        Ok(provider_views(&a))
    })
    .await
}

/// Removes a provider (and the prices given for it); its key is removed from the keychain.
#[tauri::command]
#[specta::specta]
pub async fn remove_provider(state: State<'_, AppState>, name: String) -> CmdResult<Vec<ProviderView>> {
    let had_key = state.assistant().config().provider(&name).is_some_and(|p| p.needs_key);
    let key_name = name.clone();
    state.change(move |a| a.settings().remove_provider(&name))?;
    let a = state.assistant();
    blocking(move || {
        if had_key {
            frugal_core::secrets::remove_key(&key_name).map_err(|e| {
                CommandError::new(
                    "keychain",
                    format!("{key_name} was removed but its key is still in the keychain ({e})"),
                )
            })?;
        }
        Ok(provider_views(&a))
    })
    .await
}

/// Changes the global draft shortcut (null: back to the default). It is registered before it
/// is saved, so a shortcut another app holds is refused and the old one keeps working.
#[tauri::command]
#[specta::specta]
pub async fn set_hotkey(state: State<'_, AppState>, hotkey: Option<String>) -> CmdResult<SettingsView> {
    let wanted = hotkey.as_deref().map(str::trim).filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case(HOTKEY));
    let new = wanted.unwrap_or(HOTKEY).to_string();
    check_hotkey(&new)?;
    let old = state.hotkey();
    let shell = state.shell();
    shell.set_hotkey(&old, &new).map_err(|e| CommandError::new("hotkey", e))?;
    let saved = wanted.map(String::from);
    if let Err(e) = state.change(move |a| a.settings().set_hotkey(saved.as_deref())) {
        let _ = shell.set_hotkey(&new, &old);
        return Err(e);
    }
    shell.refresh_tray();
    settings(state).await
}

/// Pastes a draft into the window the user was in when they pressed the hotkey; the draft is
/// on the clipboard either way, and the error says so.
#[tauri::command]
#[specta::specta]
pub async fn paste_back(state: State<'_, AppState>, text: String) -> CmdResult<()> {
    if text.trim().is_empty() {
        return Err(CommandError::new("input", "nothing to paste yet: draft first"));
    }
    let (shell, target) = (state.shell(), state.paste_target());
    blocking(move || shell.paste_back(&text, target).map_err(|e| CommandError::new("paste", e))).await
}

/// The model catalog: what fits this machine, what is downloaded, what is in use.
#[tauri::command]
#[specta::specta]
pub async fn models(state: State<'_, AppState>) -> CmdResult<Vec<ModelView>> {
    let a = state.assistant();
    blocking(move || Ok(a.models().catalog_fit()?.iter().map(ModelView::from).collect())).await
}

/// Makes a downloaded catalog model (by name) or a model file (by path) the one in use for
/// its kind. A new embedding model embeds every passage again, in the background.
#[tauri::command]
#[specta::specta]
pub async fn use_model(state: State<'_, AppState>, name: String) -> CmdResult<Vec<ModelView>> {
    let (kind, _) = state.change(|a| a.models().use_model(&name))?;
    if kind == frugal_core::ModelKind::Embedding {
        state.assistant().library().embed_in_background(|_| {});
    }
    models(state).await
}

/// Downloads a catalog model (resumable, verified), with progress; then lists the catalog.
#[tauri::command]
#[specta::specta]
pub async fn pull_model(
    state: State<'_, AppState>,
    name: String,
    on_event: Channel<StreamEvent>,
) -> CmdResult<Vec<ModelView>> {
    let a = state.assistant();
    blocking(move || {
        a.models().pull(&name, &mut |phase, done, total| {
            let what = match phase {
                frugal_core::download::Phase::Downloading => "downloading",
                frugal_core::download::Phase::Verifying => "verifying",
                frugal_core::download::Phase::Extracting => "unpacking",
            };
            // Megabytes, so the counts stay within a JavaScript number's exact range.
            let _ = on_event.send(StreamEvent::progress((done >> 20) as usize, (total >> 20) as usize, what));
        })?;
        Ok(())
    })
    .await?;
    models(state).await
}

/// Sends the smallest real request to a provider (one output token, metered): says whether
/// key, price, budget, network and model work, and what the check cost.
#[tauri::command]
#[specta::specta]
pub async fn test_provider(state: State<'_, AppState>, name: String) -> CmdResult<RouteView> {
    let a = state.assistant();
    let result = blocking(move || Ok(RouteView::from(&a.router().test_provider(&name)?))).await;
    state.shell().spend_changed();
    result
}

#[tauri::command]
#[specta::specta]
pub async fn index_status(state: State<'_, AppState>) -> CmdResult<IndexView> {
    let (a, paused) = (state.assistant(), state.paused());
    blocking(move || {
        let library = a.library();
        Ok(IndexView::from_status(&library.status()?, &library.meaning_status()?, paused))
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn add_folder(
    state: State<'_, AppState>,
    path: String,
    local_only: bool,
    on_event: Channel<StreamEvent>,
) -> CmdResult<IndexView> {
    // The watcher would compete for the index writer while the folder is read.
    state.stop_watching();
    let a = state.assistant();
    let added = blocking(move || {
        a.library().add(Path::new(&path), local_only, &mut |p| {
            let _ = on_event.send(StreamEvent::progress(p.files_done as usize, p.files_total as usize, "indexing"));
        })?;
        Ok(())
    })
    .await;
    restart_watch(&state);
    added?;
    index_status(state).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_folder(state: State<'_, AppState>, path: String) -> CmdResult<IndexView> {
    state.change(|a| a.library().remove(Path::new(&path)))?;
    restart_watch(&state);
    index_status(state).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_paused(state: State<'_, AppState>, paused: bool) -> CmdResult<IndexView> {
    state.set_watching(paused)?;
    state.shell().spend_changed(); // the tray's Pause item follows
    index_status(state).await
}

/// Follows the folders again after they changed (unless paused).
pub fn restart_watch(state: &AppState) {
    if let Err(e) = state.set_watching(state.paused()) {
        state.shell().notify("Indexing stopped", &e.message);
    }
}

#[tauri::command]
#[specta::specta]
pub async fn pick_folder(state: State<'_, AppState>) -> CmdResult<Option<String>> {
    let shell = state.shell();
    blocking(move || Ok(shell.pick_folder().map(|p| p.display().to_string()))).await
}

#[tauri::command]
#[specta::specta]
pub async fn pick_transcript(state: State<'_, AppState>) -> CmdResult<Option<String>> {
    let shell = state.shell();
    blocking(move || Ok(shell.pick_transcript().map(|p| p.display().to_string()))).await
}

/// Text the hotkey took from the selection or the clipboard, for the draft window, once.
#[tauri::command]
#[specta::specta]
pub fn take_pending_draft(state: State<'_, AppState>) -> Option<String> {
    crate::timings::draft_window_ready();
    state.take_pending_draft()
}

/// Bullets, or an email to answer (it starts with mail headers or reads like a message).
pub(crate) fn draft_task(text: &str, tone: &str) -> CmdResult<DraftTask> {
    let tone: Tone = tone.parse().map_err(|e: String| CommandError::new("input", e))?;
    if text.trim().is_empty() {
        return Err(CommandError::new("input", "nothing to draft from: select text or copy it first"));
    }
    let looks_like_mail = text.lines().take(5).any(|l| l.starts_with("From:") || l.starts_with("Subject:"));
    Ok(DraftTask {
        notes: if looks_like_mail { String::new() } else { text.to_string() },
        reply_to: looks_like_mail.then(|| parse_email(text)),
        tone,
        length: Length::Medium,
        seed: 1,
        related: Default::default(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn draft(
    state: State<'_, AppState>,
    text: String,
    tone: String,
    cloud: bool,
    seed: u32,
    on_event: Channel<StreamEvent>,
) -> CmdResult<DraftView> {
    let a = state.assistant();
    let view = blocking(move || {
        let mut task = draft_task(&text, &tone)?;
        task.seed = seed.max(1);
        if let Some(email) = &task.reply_to {
            if let Ok(g) = a.draft_context(email, None) {
                task.related = g;
            }
        }
        let opts = RouteOptions { cloud, ..Default::default() };
        let mut filter = frugal_core::tasks::draft::ChatterFilter::default();
        let routed = a.draft(&task, None, &opts, &CancelToken::new(), &mut |e| match e {
            Event::Text(t) => {
                crate::timings::first_draft_token();
                let _ = on_event.send(StreamEvent::text(&filter.push(t)));
            }
            Event::Status(s) => {
                filter = Default::default();
                let _ = on_event.send(StreamEvent::status(s));
            }
            _ => {}
        })?;
        crate::timings::draft_done();
        let ((d, q), route) = done(routed)?;
        let verdict = (&a.verdict(&q, &route)).into();
        Ok(DraftView {
            subject: d.subject,
            body: d.body,
            passed: q.passed,
            checks: checks(&q),
            verdict,
            route: (&route).into(),
        })
    })
    .await;
    if let Ok(v) = &view {
        state.answer_shown(crate::shell::Window::Draft, &v.route.run_id);
    }
    state.shell().spend_changed();
    view
}

/// Opens a cited file in the desktop's default app. Only files inside the indexed folders
/// open from here: the web view cannot use this to launch anything else.
#[tauri::command]
#[specta::specta]
pub async fn open_source(state: State<'_, AppState>, path: String) -> CmdResult<()> {
    let (a, shell) = (state.assistant(), state.shell());
    blocking(move || {
        let file = Path::new(&path)
            .canonicalize()
            .map_err(|e| CommandError::new("input", format!("cannot open {path}: {e}")))?;
        let indexed = a.config().index.folders.iter().any(|f| file.starts_with(&f.path));
        if !indexed || !file.is_file() {
            return Err(CommandError::new("input", format!("{path} is not a file in your indexed folders")));
        }
        shell.open_file(&file).map_err(|e| CommandError::new("internal", format!("cannot open {path}: {e}")))
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn ask(
    state: State<'_, AppState>,
    question: String,
    cloud: bool,
    on_event: Channel<StreamEvent>,
) -> CmdResult<AskView> {
    let a = state.assistant();
    let view = blocking(move || {
        let opts = RouteOptions { cloud, ..Default::default() };
        let routed = a.ask(&question, &opts, &CancelToken::new(), &mut |e| {
            if let Event::Status(s) = e {
                let _ = on_event.send(StreamEvent::status(s));
            }
        })?;
        let (r, route) = done(routed)?;
        // With no passage to read no model does better: nothing to offer but the passages.
        let verdict = if r.sources.is_empty() { Default::default() } else { (&a.verdict(&r.quality, &route)).into() };
        Ok(AskView {
            verdict,
            found: r.found,
            answer: r.answer,
            cited: r.cited.iter().map(SourceView::from).collect(),
            sources: r.sources.iter().map(SourceView::from).collect(),
            route: (&route).into(),
        })
    })
    .await;
    if let Ok(v) = &view {
        state.answer_shown(crate::shell::Window::Ask, &v.route.run_id);
    }
    state.shell().spend_changed();
    view
}

/// Summarizes a transcript file; progress and status stream on `on_event`.
pub fn summarize_file(
    a: &Assistant,
    path: &Path,
    cloud: bool,
    on_event: &dyn Fn(StreamEvent),
) -> CmdResult<SummaryView> {
    summarize_file_as(a, path, RouteOptions { cloud, ..Default::default() }, on_event)
}

/// [`summarize_file`] with any route options: the Meetings folder's summaries escalate by
/// batch. A batched escalation with a local answer shows that answer meanwhile (its note
/// says the cloud's follows); one without is the error `queued`, its message the note.
pub fn summarize_file_as(
    a: &Assistant,
    path: &Path,
    opts: RouteOptions,
    on_event: &dyn Fn(StreamEvent),
) -> CmdResult<SummaryView> {
    // A recording: its transcript first (the one beside it when it is newer).
    let transcript;
    let path = if frugal_core::transcribe::is_audio(path) {
        transcript = frugal_core::speech::transcript_path(path);
        if !frugal_core::speech::transcript_is_current(path) {
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let (_, t) = a.transcribe(
                path,
                None,
                &Default::default(),
                &mut |p| {
                    let total = p.total_ms.unwrap_or(0).max(p.done_ms);
                    on_event(StreamEvent::progress(
                        (p.done_ms / 1000) as usize,
                        (total / 1000) as usize,
                        "transcribing",
                    ))
                },
                &cancel,
            )?;
            if t.cues.is_empty() {
                return Err(CommandError::new("input", format!("no speech was found in {}", path.display())));
            }
        }
        transcript.as_path()
    } else {
        path
    };
    let input = frugal_core::input::read_input(path)?;
    let routed = a.summarize(
        &input,
        &opts,
        &CancelToken::new(),
        &mut |p| match p {
            Progress::Preparing { done, total } => {
                on_event(StreamEvent::progress(done, total, "reading the transcript"))
            }
            Progress::Chunk { done, total } => on_event(StreamEvent::progress(done, total, "summarizing")),
            Progress::Merging => on_event(StreamEvent::status("merging the parts")),
        },
        &mut |e| {
            if let Event::Status(s) = e {
                on_event(StreamEvent::status(s));
            }
        },
    )?;
    let (r, route) = match routed {
        Routed::Queued(Some(r), route) => (r, route),
        Routed::Queued(None, route) => {
            return Err(CommandError::new("queued", route.note.unwrap_or_else(|| "queued as a batch".into())))
        }
        routed => done(routed)?,
    };
    Ok(SummaryView {
        source: path.display().to_string(),
        summary: r.summary.summary.clone(),
        decisions: r.summary.decisions.clone(),
        action_items: r
            .summary
            .action_items
            .iter()
            .map(|i| ActionItemView { owner: i.owner.clone(), task: i.task.clone(), due: i.due.clone() })
            .collect(),
        open_questions: r.summary.open_questions.clone(),
        markdown: r.to_markdown(),
        passed: r.quality.passed,
        verdict: (&a.verdict(&r.quality, &route)).into(),
        route: (&route).into(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn summarize(
    state: State<'_, AppState>,
    path: String,
    cloud: bool,
    on_event: Channel<StreamEvent>,
) -> CmdResult<SummaryView> {
    let a = state.assistant();
    let view = blocking(move || summarize_file(&a, Path::new(&path), cloud, &|e| drop(on_event.send(e)))).await;
    state.shell().spend_changed();
    if let Ok(v) = &view {
        state.answer_shown(crate::shell::Window::Summary, &v.route.run_id);
        state.shell().notify("Summary ready", &v.source);
    }
    view
}

/// Saves a summary next to its transcript as `NAME.summary.md`; returns where.
#[tauri::command]
#[specta::specta]
pub async fn save_summary(source: String, markdown: String) -> CmdResult<String> {
    blocking(move || {
        let source = PathBuf::from(source);
        let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "meeting".into());
        let out = source.with_file_name(format!("{stem}.summary.md"));
        std::fs::write(&out, markdown)
            .map_err(|e| CommandError::new("input", format!("cannot write {}: {e}", out.display())))?;
        Ok(out.display().to_string())
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn spend(state: State<'_, AppState>, month_text: Option<String>) -> CmdResult<SpendView> {
    let a = state.assistant();
    blocking(move || {
        let m = month(month_text.as_deref())?;
        Ok(SpendView::new(&a.spend().report(m)?, &a.spend().rows(m)?, &a.spend().outcomes(m)?))
    })
    .await
}

/// Exports a month's rows as CSV where the user picks; returns the path, or null if cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_csv(state: State<'_, AppState>, month_text: Option<String>) -> CmdResult<Option<String>> {
    let (a, shell) = (state.assistant(), state.shell());
    blocking(move || {
        let m = month(month_text.as_deref())?;
        let Some(path) = shell.save_csv(&format!("frugal-spend-{m}.csv")) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        frugal_core::ledger::write_csv(&a.spend().rows(m)?, &mut out).map_err(|e| CommandError::new("input", e))?;
        std::fs::write(&path, out)
            .map_err(|e| CommandError::new("input", format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(path.display().to_string()))
    })
    .await
}

/// Opens (or focuses) one of the app's windows: `settings`, `draft`, `ask`, `summary`.
#[tauri::command]
#[specta::specta]
pub fn open_window(state: State<'_, AppState>, which: String) -> CmdResult<()> {
    let w = crate::shell::Window::from_label(&which)
        .ok_or_else(|| CommandError::new("input", format!("no window `{which}`")))?;
    state.shell().open_window(w).map_err(|e| CommandError::new("internal", e))
}
