//! Paste back: the draft goes where the user was typing when they pressed the hotkey.
//!
//! At the hotkey the app notes the window that had the focus (before its own draft window
//! takes it). "Paste back" puts the draft on the clipboard first — so nothing is lost if the
//! rest fails — closes the draft window, gives the focus back to that window and types the
//! paste shortcut (Ctrl+V) there through the XTEST extension, as a user's own keyboard would.
//!
//! X11 only (XWayland windows included). A native Wayland session lets no app focus another
//! or type into it; there, and on other systems for now, the error says the draft is on the
//! clipboard, ready for the user's own Ctrl+V.

use std::fmt;

/// A window to paste into (an X11 window id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target(pub u32);

/// Why the draft was not pasted (it is on the clipboard either way).
#[derive(Debug, thiserror::Error)]
pub enum PasteError {
    /// No window to go back to.
    #[error("no window to paste into: the draft is on the clipboard, paste it with Ctrl+V")]
    NoTarget,
    /// Not an X11 desktop (or the display cannot be reached).
    #[error("paste back needs an X11 desktop ({0}): the draft is on the clipboard, paste it with Ctrl+V")]
    Unsupported(String),
    /// The window closed, or would not take the focus.
    #[error("the window to paste into {0}: the draft is on the clipboard, paste it with Ctrl+V")]
    Target(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

#[cfg(target_os = "linux")]
pub use x11::{active_window, paste_into};

#[cfg(not(target_os = "linux"))]
/// The window with the focus (not available on this system yet).
pub fn active_window() -> Option<Target> {
    None
}

#[cfg(not(target_os = "linux"))]
/// Pastes into `target` (not available on this system yet).
pub fn paste_into(_target: Target) -> Result<(), PasteError> {
    Err(PasteError::Unsupported(std::env::consts::OS.into()))
}

#[cfg(target_os = "linux")]
mod x11 {
    use std::time::{Duration, Instant};

    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, InputFocus, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
    };
    use x11rb::protocol::xtest::ConnectionExt as _;
    use x11rb::rust_connection::RustConnection;
    use x11rb::wrapper::ConnectionExt as _;
    use x11rb::CURRENT_TIME;

    use super::{PasteError, Target};

    const XK_CONTROL_L: u32 = 0xffe3;
    const XK_V: u32 = 0x0076;

    fn connect() -> Result<(RustConnection, u32), PasteError> {
        if std::env::var_os("DISPLAY").is_none() {
            return Err(PasteError::Unsupported("no DISPLAY".into()));
        }
        let (conn, screen) = x11rb::connect(None).map_err(|e| PasteError::Unsupported(e.to_string()))?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .map(|s| s.root)
            .ok_or_else(|| PasteError::Unsupported("no screen".into()))?;
        Ok((conn, root))
    }

    fn atom(conn: &RustConnection, name: &[u8]) -> Option<u32> {
        Some(conn.intern_atom(false, name).ok()?.reply().ok()?.atom)
    }

    /// The window a window manager calls active, else the one with the keyboard focus.
    fn focused(conn: &RustConnection, root: u32) -> Option<u32> {
        let from_wm = atom(conn, b"_NET_ACTIVE_WINDOW").and_then(|a| {
            let reply = conn.get_property(false, root, a, AtomEnum::WINDOW, 0, 1).ok()?.reply().ok()?;
            let w = reply.value32()?.next();
            w.filter(|w| *w != 0)
        });
        from_wm.or_else(|| {
            let w = conn.get_input_focus().ok()?.reply().ok()?.focus;
            // 0 is None, 1 is PointerRoot: no window of its own.
            (w > 1 && w != root).then_some(w)
        })
    }

    /// Whether `w` (or a window above it) belongs to this process, by `_NET_WM_PID`.
    fn ours(conn: &RustConnection, root: u32, mut w: u32) -> bool {
        let Some(pid_atom) = atom(conn, b"_NET_WM_PID") else { return false };
        for _ in 0..8 {
            let pid = conn
                .get_property(false, w, pid_atom, AtomEnum::CARDINAL, 0, 1)
                .ok()
                .and_then(|c| c.reply().ok())
                .and_then(|r| r.value32().and_then(|mut v| v.next()));
            if let Some(pid) = pid {
                return pid == std::process::id();
            }
            match conn.query_tree(w).ok().and_then(|c| c.reply().ok()) {
                Some(t) if t.parent != root && t.parent != 0 => w = t.parent,
                _ => return false,
            }
        }
        false
    }

    /// The window the user was in, unless it is one of this app's own.
    pub fn active_window() -> Option<Target> {
        let (conn, root) = connect().ok()?;
        let w = focused(&conn, root)?;
        (!ours(&conn, root, w)).then_some(Target(w))
    }

    fn keycode(conn: &RustConnection, keysym: u32) -> Option<u8> {
        let setup = conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = conn.get_keyboard_mapping(min, max - min + 1).ok()?.reply().ok()?;
        let per = map.keysyms_per_keycode.max(1) as usize;
        map.keysyms.chunks(per).position(|syms| syms.contains(&keysym)).map(|i| min + i as u8)
    }

    /// Focuses `target` and types Ctrl+V there.
    pub fn paste_into(target: Target) -> Result<(), PasteError> {
        let (conn, root) = connect()?;
        if conn.get_window_attributes(target.0).ok().and_then(|c| c.reply().ok()).is_none() {
            return Err(PasteError::Target("has closed".into()));
        }
        // Ask the window manager (source 2: a pager, which WMs obey), and set the focus
        // directly for desktops without one.
        if let Some(active) = atom(&conn, b"_NET_ACTIVE_WINDOW") {
            let event = ClientMessageEvent::new(32, target.0, active, [2, CURRENT_TIME, 0, 0, 0]);
            let mask = EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY;
            let _ = conn.send_event(false, root, mask, event);
        }
        let _ = conn.set_input_focus(InputFocus::PARENT, target.0, CURRENT_TIME);
        let _ = conn.sync();
        let started = Instant::now();
        while focused(&conn, root) != Some(target.0) {
            if started.elapsed() > Duration::from_millis(500) {
                return Err(PasteError::Target("would not take the focus".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
            let _ = conn.set_input_focus(InputFocus::PARENT, target.0, CURRENT_TIME);
        }
        let unsupported = |e: x11rb::errors::ConnectionError| PasteError::Unsupported(e.to_string());
        conn.xtest_get_version(2, 2)
            .map_err(unsupported)?
            .reply()
            .map_err(|_| PasteError::Unsupported("the X server has no XTEST extension".into()))?;
        let (Some(ctrl), Some(v)) = (keycode(&conn, XK_CONTROL_L), keycode(&conn, XK_V)) else {
            return Err(PasteError::Unsupported("the keyboard map has no Ctrl or V key".into()));
        };
        for (kind, key) in
            [(KEY_PRESS_EVENT, ctrl), (KEY_PRESS_EVENT, v), (KEY_RELEASE_EVENT, v), (KEY_RELEASE_EVENT, ctrl)]
        {
            conn.xtest_fake_input(kind, key, CURRENT_TIME, root, 0, 0, 0).map_err(unsupported)?;
        }
        conn.sync().map_err(|e| PasteError::Unsupported(e.to_string()))
    }
}
