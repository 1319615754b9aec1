//! The real [`Shell`]: Tauri's tray, dialogs, windows and notifications.

use std::path::PathBuf;

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

use crate::shell::{Shell, Window};
use crate::state::AppState;

const TRAY_ID: &str = "frugal";

/// The desktop of a running app.
pub struct Desktop<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Desktop<R> {
    pub fn new(app: AppHandle<R>) -> Self {
        Self { app }
    }
}

/// Shows (or creates) a window; the draft window opens near the cursor, on top.
pub fn open_window<R: Runtime>(app: &AppHandle<R>, which: Window) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(which.label()) {
        w.show()?;
        w.unminimize()?;
        return w.set_focus();
    }
    let (width, height) = which.size();
    let mut b =
        WebviewWindowBuilder::new(app, which.label(), WebviewUrl::App(format!("index.html#{}", which.label()).into()))
            .title(which.title())
            // The page's own background, so the window shows at once without a white flash
            // while the web view loads.
            .background_color(tauri::window::Color(0xf6, 0xf8, 0xf7, 0xff))
            .inner_size(width, height)
            .min_inner_size(420.0, 360.0);
    if which == Window::Draft {
        b = b.always_on_top(true);
        if let Ok(p) = app.cursor_position() {
            b = b.position((p.x - 40.0).max(0.0), (p.y + 16.0).max(0.0));
        }
    } else {
        b = b.center();
    }
    let w = b.build()?;
    if which == Window::Draft {
        crate::timings::draft_window_shown();
    }
    w.set_focus()
}

impl<R: Runtime> Shell for Desktop<R> {
    fn spend_changed(&self) {
        refresh_tray(&self.app);
        let _ = self.app.emit("spend-changed", ());
    }

    fn refresh_tray(&self) {
        refresh_tray(&self.app);
    }

    fn index_changed(&self) {
        let _ = self.app.emit("index-changed", ());
    }

    fn notify(&self, title: &str, body: &str) {
        let _ = self.app.notification().builder().title(title).body(body).show();
    }

    fn pick_folder(&self) -> Option<PathBuf> {
        self.app.dialog().file().blocking_pick_folder().and_then(|p| p.into_path().ok())
    }

    fn pick_transcript(&self) -> Option<PathBuf> {
        self.app
            .dialog()
            .file()
            // Transcripts, and recordings (transcribed first).
            .add_filter(
                "Meeting transcripts and recordings",
                &["vtt", "srt", "txt", "md"]
                    .into_iter()
                    .chain(frugal_core::transcribe::AUDIO_EXTENSIONS.iter().copied())
                    .collect::<Vec<_>>(),
            )
            .blocking_pick_file()
            .and_then(|p| p.into_path().ok())
    }

    fn save_csv(&self, suggested_name: &str) -> Option<PathBuf> {
        self.app
            .dialog()
            .file()
            .set_file_name(suggested_name)
            .add_filter("CSV", &["csv"])
            .blocking_save_file()
            .and_then(|p| p.into_path().ok())
    }

    fn autostart(&self, enable: Option<bool>) -> Result<bool, String> {
        use tauri_plugin_autostart::ManagerExt;
        let launcher = self.app.autolaunch();
        match enable {
            Some(true) => launcher.enable().map_err(|e| e.to_string())?,
            Some(false) => launcher.disable().map_err(|e| e.to_string())?,
            None => {}
        }
        launcher.is_enabled().map_err(|e| e.to_string())
    }

    fn open_file(&self, path: &std::path::Path) -> Result<(), String> {
        use tauri_plugin_opener::OpenerExt;
        self.app.opener().open_path(path.to_string_lossy(), None::<&str>).map_err(|e| e.to_string())
    }

    fn set_hotkey(&self, old: &str, new: &str) -> Result<(), String> {
        use tauri_plugin_global_shortcut::GlobalShortcutExt;
        if old.eq_ignore_ascii_case(new) {
            return Ok(());
        }
        let shortcuts = self.app.global_shortcut();
        shortcuts.register(new).map_err(|e| format!("{new} cannot be used (another app may hold it): {e}"))?;
        let _ = shortcuts.unregister(old);
        Ok(())
    }

    fn paste_back(&self, text: &str, target: Option<crate::paste::Target>) -> Result<(), String> {
        use tauri_plugin_clipboard_manager::ClipboardExt;
        self.app.clipboard().write_text(text).map_err(|e| format!("the clipboard refused the draft: {e}"))?;
        // Close the draft window first: it is always on top and holds the focus.
        if let Some(w) = self.app.get_webview_window(Window::Draft.label()) {
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = self.app.run_on_main_thread(move || {
                let _ = w.destroy();
                let _ = tx.send(());
            });
            let _ = rx.recv_timeout(std::time::Duration::from_secs(2));
        }
        crate::paste::paste_into(target.ok_or(crate::paste::PasteError::NoTarget).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    }

    fn open_window(&self, which: Window) -> Result<(), String> {
        // Window creation must happen on the main thread on some platforms.
        let app = self.app.clone();
        self.app.run_on_main_thread(move || drop(open_window(&app, which))).map_err(|e| e.to_string())
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, label: &str, paused: bool) -> tauri::Result<Menu<R>> {
    // The hotkey shown beside Draft; a shortcut the menu cannot display is left out.
    let hotkey = app.state::<AppState>().hotkey();
    let draft = MenuItem::with_id(app, "draft", "Draft email", true, Some(hotkey.as_str()))
        .or_else(|_| MenuItem::with_id(app, "draft", "Draft email", true, None::<&str>))?;
    // Record meeting, or Stop with the time so far while recording.
    let record = match app.state::<AppState>().recorder().status() {
        Some(r) => MenuItem::with_id(
            app,
            "record-stop",
            format!("Stop recording ({})", minutes(r.elapsed_secs)),
            true,
            None::<&str>,
        )?,
        None => MenuItem::with_id(app, "record", "Record meeting", true, None::<&str>)?,
    };
    Menu::with_items(
        app,
        &[
            &record,
            &MenuItem::with_id(app, "summarize", "Summarize meeting…", true, None::<&str>)?,
            &draft,
            &MenuItem::with_id(app, "ask", "Ask my files", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "spend", label, true, None::<&str>)?,
            &MenuItem::with_id(app, "settings", "Settings", true, None::<&str>)?,
            &CheckMenuItem::with_id(app, "pause", "Pause indexing", true, paused, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", "Quit Frugal", true, None::<&str>)?,
        ],
    )
}

/// The elapsed time in the tray, by the minute: the menu is rebuilt when it changes, and a
/// rebuild closes an open menu on some Linux desktops, so once a second would be too often.
fn minutes(secs: u32) -> String {
    match secs / 60 {
        0 => "under a minute".into(),
        m if m < 60 => format!("{m} min"),
        m => format!("{} h {:02} min", m / 60, m % 60),
    }
}

/// For the life of the app: keeps the tray's Stop line showing the time recorded (however
/// the recording was started), and finishes a recording that ended by itself (both devices
/// gone, the disk full) as Stop would, so its notes and summary reach the user.
pub fn spawn_recording_clock<R: Runtime>(app: AppHandle<R>) {
    let _ = std::thread::Builder::new().name("frugal-record-clock".into()).spawn(move || {
        let mut shown: Option<String> = None;
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let state = app.state::<AppState>();
            let recorder = state.recorder();
            if recorder.ended_by_itself() {
                let _ = crate::recording::stop(&crate::recording::Parts::of(&state), &|_| {});
            }
            let label = recorder.status().map(|r| minutes(r.elapsed_secs));
            if label != shown {
                shown = label;
                refresh_tray(&app);
            }
        }
    });
}

fn tray_label<R: Runtime>(app: &AppHandle<R>) -> (String, bool) {
    let state = app.state::<AppState>();
    let paused = state.paused();
    let label = crate::commands::status_of(&state.assistant(), paused)
        .map(|s| s.tray_label)
        .unwrap_or_else(|e| format!("Spend unavailable: {}", e.message));
    (label, paused)
}

/// Creates the tray icon and its menu.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let (label, paused) = tray_label(app);
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("Frugal")
        .menu(&menu(app, &label, paused)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Rebuilds the tray menu with this month's figure and the pause state.
pub fn refresh_tray<R: Runtime>(app: &AppHandle<R>) {
    let (label, paused) = tray_label(app);
    if let (Some(tray), Ok(m)) = (app.tray_by_id(TRAY_ID), menu(app, &label, paused)) {
        let _ = tray.set_menu(Some(m));
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let result = match id {
        "summarize" => open_window(app, Window::Summary),
        "draft" => {
            app.state::<AppState>().note_paste_target(crate::paste::active_window());
            crate::take_clipboard_for_draft(app);
            open_window(app, Window::Draft)
        }
        "ask" => open_window(app, Window::Ask),
        "record" => {
            let parts = crate::recording::Parts::of(&app.state::<AppState>());
            // Opening the sound server's streams can take a moment: not on the menu's thread.
            let _ = std::thread::Builder::new().name("frugal-record".into()).spawn(move || {
                if let Err(e) = crate::recording::start(&parts) {
                    parts.shell.notify("Cannot record", &e.message);
                }
            });
            Ok(())
        }
        "record-stop" => {
            let parts = crate::recording::Parts::of(&app.state::<AppState>());
            let _ = std::thread::Builder::new().name("frugal-record-stop".into()).spawn(move || {
                if let Ok(view) = crate::recording::stop(&parts, &|_| {}) {
                    // The notification says it is done; the summary opens beside it.
                    let summary = crate::meetings::summary_path(std::path::Path::new(&view.source));
                    let _ = parts.shell.open_file(&summary);
                }
            });
            Ok(())
        }
        "spend" | "settings" => open_window(app, Window::Settings),
        "pause" => {
            let state = app.state::<AppState>();
            let _ = state.set_watching(!state.paused());
            refresh_tray(app);
            Ok(())
        }
        "quit" => {
            // The process ends without dropping the app's state: a meeting being recorded
            // is finished and its transcript saved, answers the gateway is giving finish
            // and settle (a few seconds at most), then the ledger's backup is brought up
            // to date.
            let state = app.state::<AppState>();
            // On a thread of its own, waited for 15 s at most: finishing the transcript waits
            // for the helper, and a wedged one must not freeze the tray (the WAV itself is
            // whole on disk to its last second already).
            let parts = crate::recording::Parts::of(&state);
            let (done, finished) = std::sync::mpsc::channel();
            let _ = std::thread::Builder::new().name("frugal-quit-recording".into()).spawn(move || {
                crate::recording::stop_for_quit(&parts);
                let _ = done.send(());
            });
            let _ = finished.recv_timeout(std::time::Duration::from_secs(15));
            state.gateway().stop(std::time::Duration::from_secs(5));
            state.assistant().flush_ledger();
            app.exit(0);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        let _ = app.notification().builder().title("Frugal").body(e.to_string()).show();
    }
}
