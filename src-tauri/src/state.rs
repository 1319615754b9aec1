use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use frugal_core::Assistant;

use crate::error::CmdResult;
use crate::shell::Shell;

/// What the app holds between commands. The assistant is shared (`Arc`) so a long draft does
/// not block settings; a settings change re-opens it from the saved config and swaps it in.
pub struct AppState {
    config: Option<PathBuf>,
    assistant: Mutex<Arc<Assistant>>,
    /// Text the hotkey took (selection or clipboard) for the draft window to pick up.
    pending_draft: Mutex<Option<String>>,
    /// The window the user was in when they pressed the hotkey (for Paste back).
    paste_target: Mutex<Option<crate::paste::Target>>,
    paused: AtomicBool,
    watcher: Mutex<Option<frugal_core::index::Watcher>>,
    shell: Arc<dyn Shell>,
}

impl AppState {
    /// Opens the assistant on `config` (or the XDG default).
    pub fn open(config: Option<PathBuf>, shell: Arc<dyn Shell>) -> CmdResult<Self> {
        let assistant = Assistant::open(config.as_deref(), None)?;
        Ok(Self {
            config,
            assistant: Mutex::new(Arc::new(assistant)),
            pending_draft: Mutex::new(None),
            paste_target: Mutex::new(None),
            paused: AtomicBool::new(false),
            watcher: Mutex::new(None),
            shell,
        })
    }

    /// The assistant in effect.
    pub fn assistant(&self) -> Arc<Assistant> {
        self.assistant.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Changes settings: a fresh assistant from the saved config, `change` applied (it saves
    /// the config), then swapped in. In-flight work keeps the old one until it finishes.
    pub fn change<T>(&self, change: impl FnOnce(&mut Assistant) -> frugal_core::Result<T>) -> CmdResult<T> {
        let mut fresh = Assistant::open(self.config.as_deref(), None)?;
        let out = change(&mut fresh)?;
        *self.assistant.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(out)
    }

    /// The config file given at start (`None`: the XDG default).
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config.clone()
    }

    /// Stops watching until [`AppState::set_watching`] runs again.
    pub fn stop_watching(&self) {
        *self.watcher.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Leaves text for the draft window.
    pub fn set_pending_draft(&self, text: Option<String>) {
        *self.pending_draft.lock().unwrap_or_else(PoisonError::into_inner) = text;
    }

    /// Takes the text the hotkey left, once.
    pub fn take_pending_draft(&self) -> Option<String> {
        self.pending_draft.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Notes where a draft should be pasted back (`None` keeps the one noted before: the
    /// hotkey pressed in the app's own window).
    pub fn note_paste_target(&self, target: Option<crate::paste::Target>) {
        if target.is_some() {
            *self.paste_target.lock().unwrap_or_else(PoisonError::into_inner) = target;
        }
    }

    /// The window to paste a draft back into.
    pub fn paste_target(&self) -> Option<crate::paste::Target> {
        *self.paste_target.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The draft hotkey in effect: the config's, else the default.
    pub fn hotkey(&self) -> String {
        self.assistant().config().app.hotkey.clone().unwrap_or_else(|| crate::commands::HOTKEY.to_string())
    }

    /// Whether folder watching is paused from the tray.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The desktop around the app (tray, dialogs, windows, notifications).
    pub fn shell(&self) -> Arc<dyn Shell> {
        self.shell.clone()
    }

    /// Starts (or, when paused or with no folders, stops) watching the indexed folders.
    pub fn set_watching(&self, paused: bool) -> CmdResult<()> {
        self.paused.store(paused, Ordering::SeqCst);
        let mut slot = self.watcher.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = None; // dropping the watcher stops it
        let assistant = self.assistant();
        if !paused && !assistant.folders().is_empty() {
            let shell = self.shell.clone();
            *slot = Some(assistant.watch(move |_| shell.index_changed())?);
        }
        Ok(())
    }
}
