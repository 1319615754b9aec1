//! Paste back on a real X server (Xvfb): the window the user was in is noted, another window
//! takes the focus (the draft window), the draft goes on the clipboard, and Paste back gives
//! the focus back and types Ctrl+V there through XTEST. A plain X client plays the user's
//! editor: it sees the keystroke and reads the clipboard as any editor would on Ctrl+V.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod common;

use std::process::{Command, Stdio};

use common::{x11, Kill};
use frugal_app::paste::{self, Target};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, EventMask, PropMode};
use x11rb::wrapper::ConnectionExt as _;

#[test]
fn paste_back_types_ctrl_v_into_the_window_the_user_was_in() {
    let display = format!(":{}", 300 + std::process::id() % 300);
    let _xvfb = Kill(
        Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is missing: run scripts/setup.sh"),
    );
    std::env::set_var("DISPLAY", &display);
    let (conn, root) = x11::connect(&display);

    // The user's editor has the focus when the hotkey is pressed.
    let editor = x11::focused_editor(&conn, root);
    assert_eq!(paste::active_window(), Some(Target(editor)));

    // The draft window (this process's own, by _NET_WM_PID) takes the focus; the hotkey
    // pressed again there must not make it the place to paste into.
    let draft = x11::window(&conn, root, EventMask::NO_EVENT);
    let pid_atom = x11::atom(&conn, "_NET_WM_PID");
    conn.change_property32(PropMode::REPLACE, draft, pid_atom, AtomEnum::CARDINAL, &[std::process::id()]).unwrap();
    x11::focus(&conn, draft);
    assert_eq!(paste::active_window(), None, "the app's own window is never the paste target");

    // The app puts the draft on the clipboard (its clipboard plugin is arboard too), then
    // pastes back: the focus returns to the editor, which gets Ctrl+V and the draft.
    let text = "Subject: Design review moved\n\nHi Sam — Friday 10:00, room B2.14. Ünïcödé ✓";
    let mut clipboard = arboard::Clipboard::new().unwrap();
    clipboard.set_text(text).unwrap();
    paste::paste_into(Target(editor)).unwrap();
    assert_eq!(conn.get_input_focus().unwrap().reply().unwrap().focus, editor);
    assert_eq!(x11::pasted_into(&conn, editor, 5).unwrap(), text);

    // The editor closed meanwhile: a one-line error that says where the draft is.
    conn.destroy_window(editor).unwrap();
    conn.sync().unwrap();
    let e = paste::paste_into(Target(editor)).unwrap_err().to_string();
    assert!(e.contains("has closed") && e.contains("on the clipboard") && !e.contains('\n'), "{e}");
}
