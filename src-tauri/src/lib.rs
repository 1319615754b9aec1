//! Frugal's tray app: a thin Tauri v2 shell over `frugal-core`, the same functions the CLI
//! calls. It starts to the tray with no window; windows (settings, draft, ask, summary) are
//! created when shown and destroyed when closed, so the idle app holds no web view.
//!
//! Commands (`commands`) take only the app state and `Channel`s, and reach the desktop
//! through the [`shell::Shell`] trait, so they run unchanged under Tauri's mock runtime.
//! TypeScript bindings for them are generated from the Rust types (`tauri-specta`) into
//! `ui/src/bindings.ts`; a test fails when the committed file is stale.

pub mod commands;
pub mod desktop;
pub mod error;
pub mod estimates;
pub mod gateway;
pub mod levers;
pub mod meetings;
pub mod outcomes;
pub mod paste;
pub mod recording;
pub mod shell;
pub mod state;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};

use crate::shell::Window;
use crate::state::AppState;

/// With `FRUGAL_TIMINGS=1` the app prints launch and hotkey latencies on stderr
/// (`scripts/bench-app.sh` reads them).
pub mod timings {
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::Instant;

    static START: OnceLock<Instant> = OnceLock::new();
    static HOTKEY: Mutex<Option<Instant>> = Mutex::new(None);
    static HOTKEY_FOR_TOKEN: Mutex<Option<Instant>> = Mutex::new(None);

    fn on() -> bool {
        std::env::var_os("FRUGAL_TIMINGS").is_some()
    }

    /// Marks the start of `main`.
    pub fn start() {
        START.get_or_init(Instant::now);
    }

    /// The tray is up.
    pub fn tray_ready() {
        if let (true, Some(s)) = (on(), START.get()) {
            eprintln!("frugal-app: tray ready {} ms after start", s.elapsed().as_millis());
        }
    }

    /// The hotkey was pressed.
    pub fn hotkey() {
        let now = Some(Instant::now());
        *HOTKEY.lock().unwrap_or_else(PoisonError::into_inner) = now;
        *HOTKEY_FOR_TOKEN.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Where the hotkey's text came from, and how long it is (never the text itself).
    pub fn draft_source(from: &str, bytes: usize) {
        if on() {
            eprintln!("frugal-app: draft text from the {from} ({bytes} bytes)");
        }
    }

    /// A draft finished (the benchmark waits for it before pressing the hotkey again).
    pub fn draft_done() {
        if on() {
            eprintln!("frugal-app: draft finished");
        }
    }

    /// The first piece of a draft reached the window.
    pub fn first_draft_token() {
        if let (true, Some(t)) = (on(), HOTKEY_FOR_TOKEN.lock().unwrap_or_else(PoisonError::into_inner).take()) {
            eprintln!("frugal-app: first draft token {} ms after the hotkey", t.elapsed().as_millis());
        }
    }

    /// The draft window (with its web view) is built and shown.
    pub fn draft_window_shown() {
        if let (true, Some(t)) = (on(), *HOTKEY.lock().unwrap_or_else(PoisonError::into_inner)) {
            eprintln!("frugal-app: draft window shown {} ms after the hotkey", t.elapsed().as_millis());
        }
    }

    /// The draft window's page asked for its text: it is shown and running.
    pub fn draft_window_ready() {
        if let (true, Some(t)) = (on(), HOTKEY.lock().unwrap_or_else(PoisonError::into_inner).take()) {
            eprintln!("frugal-app: draft window ready {} ms after the hotkey", t.elapsed().as_millis());
        }
    }
}

/// The typed command set, for the invoke handler and the TypeScript bindings.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new().commands(tauri_specta::collect_commands![
        commands::app_status,
        commands::settings,
        commands::set_budget,
        commands::set_caps,
        commands::set_policy,
        commands::set_meetings_folder,
        commands::autostart,
        commands::set_provider_key,
        commands::add_provider,
        commands::remove_provider,
        commands::set_hotkey,
        commands::paste_back,
        commands::test_provider,
        commands::models,
        commands::use_model,
        commands::pull_model,
        commands::index_status,
        commands::add_folder,
        commands::remove_folder,
        commands::set_paused,
        commands::pick_folder,
        commands::pick_transcript,
        commands::take_pending_draft,
        commands::draft,
        estimates::draft_estimate,
        estimates::summary_estimate,
        estimates::ask_estimate,
        outcomes::record_outcome,
        commands::ask,
        commands::open_source,
        commands::summarize,
        commands::save_summary,
        recording::record_start,
        recording::record_stop,
        recording::record_status,
        commands::spend,
        commands::export_csv,
        levers::batches,
        levers::cancel_batch,
        commands::open_window,
        gateway::gateway,
        gateway::set_gateway,
        gateway::add_gateway_app,
        gateway::remove_gateway_app,
    ])
}

/// Writes the TypeScript bindings (`frugal-app --export-bindings FILE`).
///
/// This tauri-specta release also emits `export type TAURI_CHANNEL<TSend> = null`, which
/// shadows the `Channel` class it imports under that name; the line is dropped so channel
/// arguments keep their real type. The file is excluded from the UI's unused-code checks
/// (`@ts-nocheck`: it carries an unused event helper); the UI's own code is checked against it.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder::<tauri::Wry>()
        .export(
            specta_typescript::Typescript::default().header(
                "// Generated by `frugal-app --export-bindings` from the Rust types. Do not edit.\n// @ts-nocheck\n/* eslint-disable */",
            ),
            path,
        )
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let fixed: String = text
        .lines()
        .filter(|l| !l.starts_with("export type TAURI_CHANNEL<TSend> = null"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, fixed).map_err(|e| e.to_string())
}

/// Leaves text for the draft window (the hotkey and the tray's Draft item): the selected
/// text where the desktop has a selection of its own (X11's PRIMARY, also served by most
/// Wayland compositors), else the clipboard.
pub fn take_clipboard_for_draft<R: Runtime>(app: &AppHandle<R>) {
    let useful = |t: String| Some(t).filter(|t| !t.trim().is_empty());
    let (text, from) = match selected_text().and_then(useful) {
        Some(t) => (Some(t), "selection"),
        None => (app.clipboard().read_text().ok().and_then(useful), "clipboard"),
    };
    timings::draft_source(from, text.as_deref().map_or(0, str::len));
    app.state::<AppState>().set_pending_draft(text);
}

#[cfg(target_os = "linux")]
fn selected_text() -> Option<String> {
    use arboard::{GetExtLinux, LinuxClipboardKind};
    arboard::Clipboard::new().ok()?.get().clipboard(LinuxClipboardKind::Primary).text().ok()
}

#[cfg(not(target_os = "linux"))]
fn selected_text() -> Option<String> {
    None
}

/// What the command line asked for: `--settings` opens settings at launch (the e2e tests and
/// the desktop file's "Settings" action use it), `--config FILE` picks the config.
struct Args {
    config: Option<PathBuf>,
    open: Option<Window>,
    export: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        config: std::env::var_os("FRUGAL_CONFIG").map(PathBuf::from),
        open: std::env::var("FRUGAL_OPEN").ok().as_deref().and_then(Window::from_label),
        export: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => a.config = it.next().map(PathBuf::from),
            "--export-bindings" => a.export = it.next().map(PathBuf::from),
            other => {
                if let Some(w) = other.strip_prefix("--").and_then(Window::from_label) {
                    a.open = Some(w);
                }
            }
        }
    }
    a
}

/// Runs the app until Quit.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    timings::start();
    let args = args();
    if let Some(path) = &args.export {
        return export_bindings(path).map_err(Into::into);
    }
    let specta = specta_builder::<tauri::Wry>();
    let open_at_start = args.open;
    let config = args.config.clone();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // A second launch opens what it asked for (or settings) in the running app.
            let which = argv.iter().find_map(|a| a.strip_prefix("--").and_then(Window::from_label));
            let _ = desktop::open_window(app, which.unwrap_or(Window::Settings));
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, _shortcut, event| {
                    if event.state() == ShortcutState::Pressed {
                        timings::hotkey();
                        app.state::<AppState>().note_paste_target(paste::active_window());
                        take_clipboard_for_draft(app);
                        // An open draft window drafts the new text; otherwise a new one opens
                        // and drafts it as it loads.
                        if app.get_webview_window(Window::Draft.label()).is_some() {
                            use tauri::Emitter;
                            let _ = app.emit_to(Window::Draft.label(), "draft-pending", ());
                        }
                        let _ = desktop::open_window(app, Window::Draft);
                    }
                })
                .build(),
        )
        .invoke_handler(specta.invoke_handler())
        .on_window_event(|window, event| {
            // An answer left unused in a closing window was dismissed.
            if let tauri::WindowEvent::Destroyed = event {
                window.state::<AppState>().window_closed(window.label());
            }
        })
        .setup(move |app| {
            let shell = Arc::new(desktop::Desktop::new(app.handle().clone()));
            let state = AppState::open(config.clone(), shell).map_err(|e| e.message)?;
            app.manage(state);
            desktop::create_tray(app.handle())?;
            let hotkey = app.state::<AppState>().hotkey();
            if let Err(e) = commands::check_hotkey(&hotkey)
                .map_err(|e| e.message)
                .and_then(|()| app.global_shortcut().register(hotkey.as_str()).map_err(|e| e.to_string()))
            {
                eprintln!("frugal-app: the draft hotkey {hotkey} cannot be used ({e}); change it in Settings");
            }
            commands::restart_watch(&app.state::<AppState>());
            if let Err(e) = app.state::<AppState>().sync_gateway() {
                app.state::<AppState>().shell().notify("Gateway not started", &e);
            }
            meetings::spawn(app.handle().clone(), std::time::Duration::from_secs(5));
            levers::spawn_poller(app.handle().clone(), std::time::Duration::from_secs(120));
            AppState::spawn_config_follower(app.handle().clone());
            desktop::spawn_recording_clock(app.handle().clone());
            if let Some(w) = open_at_start {
                desktop::open_window(app.handle(), w)?;
            }
            timings::tray_ready();
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|_app, event| {
        // Closing the last window leaves the app in the tray; only Quit exits.
        if let tauri::RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
    Ok(())
}
