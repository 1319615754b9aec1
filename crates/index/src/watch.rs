//! Keeping the index fresh: `notify` events, debounced (editors that save by writing a
//! temporary file and renaming it over the original produce one batch, not five), turned into
//! [`Index::apply`] calls on a background thread.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::{Folder, Index, IndexError, Result, UpdateReport};

/// How long the watcher waits for a burst of events to settle.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Whether an event can mean a file's content or presence changed. Reading a file (the
/// index's own reads included: open, read, close-without-write, atime) is not a change, or
/// every update would trigger the next one and the watcher would never go idle.
pub fn changes_content(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
    use notify::EventKind;
    if event.need_rescan() {
        return true;
    }
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// What one batch of changes did.
#[derive(Debug)]
pub enum WatchEvent {
    /// The index was updated.
    Updated {
        /// The paths that changed.
        paths: Vec<PathBuf>,
        /// What the update did.
        report: UpdateReport,
    },
    /// A batch could not be applied, or the watcher reported an error (one line).
    Error(String),
}

/// A running watcher; dropping it stops watching (the debouncer goes, its channel closes and
/// the applying thread ends on its own).
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

/// Watches `folders` and applies every change to `index`; `on_event` hears about each batch.
pub fn watch(
    index: Arc<Index>,
    folders: Vec<Folder>,
    mut on_event: impl FnMut(WatchEvent) + Send + 'static,
) -> Result<Watcher> {
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, tx).map_err(|e| IndexError::Watch {
        path: PathBuf::from("."),
        reason: crate::error::first_line(&e.to_string()),
    })?;
    for folder in &folders {
        debouncer.watch(&folder.path, RecursiveMode::Recursive).map_err(|e| IndexError::Watch {
            path: folder.path.clone(),
            reason: crate::error::first_line(&e.to_string()),
        })?;
    }
    std::thread::Builder::new()
        .name("frugal-index-watch".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut paths = BTreeSet::new();
                let mut batch = vec![first];
                // Take whatever else is queued: one commit for a burst.
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                for result in batch {
                    match result {
                        Ok(events) => {
                            for e in events.iter().filter(|e| changes_content(&e.event)) {
                                if e.event.need_rescan() {
                                    // Events were lost (the kernel's queue overflowed): look
                                    // at every folder again.
                                    paths.extend(folders.iter().map(|f| f.path.clone()));
                                }
                                paths.extend(e.event.paths.iter().cloned());
                            }
                        }
                        Err(errors) => {
                            for e in errors {
                                on_event(WatchEvent::Error(crate::error::first_line(&e.to_string())));
                            }
                        }
                    }
                }
                if paths.is_empty() {
                    continue;
                }
                let paths: Vec<PathBuf> = paths.into_iter().collect();
                // Another process may hold the writer for a moment (an `index add`): wait.
                let mut attempt = 0;
                loop {
                    match index.apply(&folders, &paths) {
                        Ok(report) => {
                            // Nothing written, nothing to say (a metadata-only event, a file
                            // saved with the same content).
                            if report.changed || !report.missing_folders.is_empty() {
                                on_event(WatchEvent::Updated { paths: paths.clone(), report });
                            }
                            break;
                        }
                        Err(IndexError::Busy(_)) if attempt < 120 => {
                            // The index is shared with the CLI and the tray app: wait our turn.
                            attempt += 1;
                            std::thread::sleep(Duration::from_millis(500));
                        }
                        Err(e) => {
                            on_event(WatchEvent::Error(e.to_string()));
                            break;
                        }
                    }
                }
            }
        })
        .map_err(|e| IndexError::Watch { path: PathBuf::from("."), reason: e.to_string() })?;
    Ok(Watcher { _debouncer: debouncer })
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
    use notify::{Event, EventKind};

    #[test]
    fn reads_are_not_changes() {
        let read = |k| Event::new(EventKind::Access(k));
        assert!(!super::changes_content(&read(AccessKind::Open(AccessMode::Any))));
        assert!(!super::changes_content(&read(AccessKind::Read)));
        assert!(!super::changes_content(&read(AccessKind::Close(AccessMode::Read))));
        assert!(super::changes_content(&read(AccessKind::Close(AccessMode::Write))));
        assert!(super::changes_content(&Event::new(EventKind::Create(CreateKind::File))));
        assert!(super::changes_content(&Event::new(EventKind::Modify(ModifyKind::Any))));
    }
}
