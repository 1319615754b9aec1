//! Runs third-party parsers that may panic on hostile input (the PDF reader does; so does
//! the audio decoder on a WAV whose header says 0 Hz) without letting the panic reach the
//! user: it is caught, and the process-wide panic hook is told to stay silent for it, so the
//! file shows up as skipped or refused with a reason, not as a crash report.
//!
//! ```
//! assert_eq!(frugal_guard::quietly(|| 5), Some(5));
//! ```

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// `f()`, or `None` if it panicked.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.ok()
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_none() {
        assert_eq!(super::quietly(|| 5), Some(5));
        assert_eq!(super::quietly(|| -> i32 { panic!("bad pdf") }), None);
    }
}
