//! The desktop around the commands, behind a trait: the real one drives Tauri (tray, dialogs,
//! windows, notifications); tests use a recording fake. Commands never touch a window
//! directly, so the same command code runs under Tauri's mock runtime.

use std::path::PathBuf;

/// The app's windows, created when shown and destroyed when closed (the idle app has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Settings,
    Draft,
    Ask,
    Summary,
}

impl Window {
    /// The window label, also the UI route (`index.html#settings`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Settings => "settings",
            Self::Draft => "draft",
            Self::Ask => "ask",
            Self::Summary => "summary",
        }
    }

    /// From a label.
    pub fn from_label(label: &str) -> Option<Self> {
        [Self::Settings, Self::Draft, Self::Ask, Self::Summary].into_iter().find(|w| w.label() == label)
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::Settings => "Frugal — Settings",
            Self::Draft => "Frugal — Draft",
            Self::Ask => "Frugal — Ask my files",
            Self::Summary => "Frugal — Meeting summary",
        }
    }

    pub(crate) fn size(self) -> (f64, f64) {
        match self {
            Self::Settings => (900.0, 680.0),
            Self::Draft => (560.0, 520.0),
            Self::Ask => (620.0, 520.0),
            Self::Summary => (720.0, 640.0),
        }
    }
}

/// What commands may ask of the desktop.
pub trait Shell: Send + Sync {
    /// Spend may have changed: refresh the tray line and tell the windows.
    fn spend_changed(&self);
    /// Rebuilds the tray menu (its Draft line shows the hotkey).
    fn refresh_tray(&self);
    /// The index changed (watcher batch, folder added).
    fn index_changed(&self);
    /// A desktop notification.
    fn notify(&self, title: &str, body: &str);
    /// A folder picker.
    fn pick_folder(&self) -> Option<PathBuf>;
    /// A transcript picker.
    fn pick_transcript(&self) -> Option<PathBuf>;
    /// A save dialog for a CSV file.
    fn save_csv(&self, suggested_name: &str) -> Option<PathBuf>;
    /// Shows (creating if needed) and focuses a window.
    fn open_window(&self, which: Window) -> Result<(), String>;
    /// Whether the app starts at login; `Some` changes it first.
    fn autostart(&self, enable: Option<bool>) -> Result<bool, String>;
    /// Opens a file in the desktop's default app for it.
    fn open_file(&self, path: &std::path::Path) -> Result<(), String>;
    /// Registers the global draft shortcut `new` in place of `old` (both valid shortcuts);
    /// an error (taken by another app) leaves `old` in place.
    fn set_hotkey(&self, old: &str, new: &str) -> Result<(), String>;
    /// Puts `text` on the clipboard, closes the draft window and pastes into `target`, the
    /// window the user was in. The text is on the clipboard even when the paste fails.
    fn paste_back(&self, text: &str, target: Option<crate::paste::Target>) -> Result<(), String>;
}
