use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use frugal_core::Assistant;

use crate::error::CmdResult;
use crate::shell::Shell;

/// What the app holds between commands. One assistant lives as long as the app (`Arc`, so a
/// long draft does not block settings); settings change in place through its settings
/// service, and the loaded model stays unless the change is about the model.
pub struct AppState {
    assistant: Arc<Assistant>,
    /// Text the hotkey took (selection or clipboard) for the draft window to pick up.
    pending_draft: Mutex<Option<String>>,
    /// The window the user was in when they pressed the hotkey (for Paste back).
    paste_target: Mutex<Option<crate::paste::Target>>,
    paused: AtomicBool,
    watcher: Mutex<Option<frugal_core::index::Watcher>>,
    /// The settings generation and the folders `follow_config` saw last.
    followed: Mutex<(u64, Vec<frugal_core::config::FolderEntry>)>,
    shell: Arc<dyn Shell>,
    /// The answer each window shows that no outcome was recorded for yet.
    unused: crate::outcomes::Unused,
    /// The gateway served while the app runs (Settings → Gateway).
    gateway: crate::gateway::Served,
    /// Record meeting / Stop.
    recorder: Arc<crate::recording::Recorder>,
    /// A catch-up update of the folders is running, and whether another is wanted after it
    /// (see `set_watching`).
    catching_up: Arc<(AtomicBool, AtomicBool)>,
}

impl AppState {
    /// Opens the assistant on `config` (or the XDG default).
    pub fn open(config: Option<PathBuf>, shell: Arc<dyn Shell>) -> CmdResult<Self> {
        let assistant = Assistant::open(config.as_deref(), None)?;
        let followed = Mutex::new((assistant.settings().external_changes(), assistant.config().index.folders.clone()));
        Ok(Self {
            followed,
            assistant: Arc::new(assistant),
            pending_draft: Mutex::new(None),
            paste_target: Mutex::new(None),
            paused: AtomicBool::new(false),
            watcher: Mutex::new(None),
            shell,
            unused: Default::default(),
            gateway: Default::default(),
            recorder: Default::default(),
            catching_up: Default::default(),
        })
    }

    /// The meeting recorder.
    pub fn recorder(&self) -> Arc<crate::recording::Recorder> {
        self.recorder.clone()
    }

    /// The assistant in effect.
    pub fn assistant(&self) -> Arc<Assistant> {
        self.assistant.clone()
    }

    /// Changes settings in place: `change` goes through the assistant's settings service,
    /// which saves the config and puts it in effect at once. Work in flight finishes with the
    /// engine it has; the engine is replaced only if the model or its plan changed.
    pub fn change<T>(&self, change: impl FnOnce(&Assistant) -> frugal_core::Result<T>) -> CmdResult<T> {
        Ok(change(&self.assistant)?)
    }

    /// Picks up a config another process changed (the CLI while the app runs): the windows
    /// and the tray refresh, the watcher follows new folders. A file that cannot be read
    /// keeps the settings in effect, and a notification says why, once. True on a change.
    pub fn follow_config(&self) -> bool {
        let settings = self.assistant.settings();
        settings.refresh();
        if let Some(notice) = settings.take_notice() {
            self.shell.notify("Settings file not applied", &notice);
        }
        // Compared with what this follower saw last, not with the settings before `refresh`:
        // any read of the settings may already have taken the new file. Only other processes'
        // changes count: the app's own are followed up where they are made (a window
        // re-rendering under the user's hands for nothing would be a flicker, or worse).
        let (generation, folders) = (settings.external_changes(), self.assistant.config().index.folders.clone());
        let mut seen = self.followed.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.0 == generation {
            return false;
        }
        let folders_changed = seen.1 != folders;
        *seen = (generation, folders);
        drop(seen);
        // `[gateway]` edited by hand or by another process: serve (or stop) accordingly.
        if let Err(e) = self.sync_gateway() {
            self.shell.notify("Gateway not started", &e);
        }
        if folders_changed {
            if let Err(e) = self.set_watching(self.paused()) {
                self.shell.notify("Indexing stopped", &e.message);
            }
            self.shell.index_changed();
        }
        self.shell.refresh_tray();
        self.shell.spend_changed();
        true
    }

    /// Follows the config file for the life of the app (a `stat` a second).
    pub fn spawn_config_follower<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
        use tauri::Manager;
        let _ = std::thread::Builder::new().name("frugal-config".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            app.state::<AppState>().follow_config();
        });
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

    /// The gateway the app serves.
    pub fn gateway(&self) -> &crate::gateway::Served {
        &self.gateway
    }

    /// Starts, stops or moves the gateway to match `[gateway]`; the error says why it could
    /// not start (the port in use).
    pub fn sync_gateway(&self) -> Result<(), String> {
        self.gateway.sync(&self.assistant)
    }

    /// The answers on screen not yet used.
    pub fn unused(&self) -> &crate::outcomes::Unused {
        &self.unused
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
        // Pausing covers the embedder, which on a large library is most of the work.
        assistant.library().pause_embedding(paused);
        if !paused && !assistant.library().folders().is_empty() {
            let shell = self.shell.clone();
            let embedding = assistant.clone();
            *slot = Some(assistant.library().watch(move |_| {
                shell.index_changed();
                // New and edited passages get their vectors off the UI's threads.
                embedding.library().embed_in_background(|_| {});
            })?);
            // What changed while the app was closed or paused (the watcher hears only what
            // changes from now on: a file deleted meanwhile could still be cited), then
            // whatever an earlier run or the CLI left unembedded. One catch-up at a time.
            // A resume during a running catch-up asks for one more (the running walk may
            // have passed what changed meanwhile).
            self.catching_up.1.store(true, Ordering::SeqCst);
            if !self.catching_up.0.swap(true, Ordering::SeqCst) {
                let (shell, flags) = (self.shell.clone(), self.catching_up.clone());
                let spawned = std::thread::Builder::new().name("frugal-catch-up".into()).spawn(move || {
                    while flags.1.swap(false, Ordering::SeqCst) {
                        match assistant.library().update(&mut |_| {}) {
                            Ok(report) if report.changed => shell.index_changed(),
                            Ok(_) => {}
                            // Another frugal is updating: it catches up for both.
                            Err(frugal_core::CoreError::Index(frugal_core::index::IndexError::Busy(_))) => {}
                            Err(e) => shell.notify("Indexing stopped", &e.to_string()),
                        }
                    }
                    assistant.library().embed_in_background(|_| {});
                    flags.0.store(false, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    self.catching_up.0.store(false, Ordering::SeqCst);
                }
            }
        }
        Ok(())
    }
}
