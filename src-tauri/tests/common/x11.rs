//! A plain X client for the tests: plays the user's editor (a window that takes the focus,
//! sees keys and reads the clipboard as editors do on Ctrl+V) and presses keys via XTEST.

use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, InputFocus, KeyButMask, WindowClass, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::CURRENT_TIME;

/// A connection to `display`, waiting up to 10 s for the server to come up.
pub fn connect(display: &str) -> (RustConnection, u32) {
    let start = Instant::now();
    loop {
        match x11rb::connect(Some(display)) {
            Ok((c, screen)) => {
                let root = c.setup().roots[screen].root;
                return (c, root);
            }
            Err(_) if start.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("the X server {display} did not start: {e}"),
        }
    }
}

/// A mapped top-level window listening for `events`.
pub fn window(conn: &RustConnection, root: u32, events: EventMask) -> u32 {
    let w = conn.generate_id().unwrap();
    let aux = CreateWindowAux::new().event_mask(events);
    conn.create_window(0, w, root, 10, 10, 300, 200, 0, WindowClass::INPUT_OUTPUT, 0, &aux).unwrap();
    conn.map_window(w).unwrap();
    conn.sync().unwrap();
    w
}

/// An editor window with the keyboard focus.
pub fn focused_editor(conn: &RustConnection, root: u32) -> u32 {
    let w = window(conn, root, EventMask::KEY_PRESS | EventMask::PROPERTY_CHANGE);
    focus(conn, w);
    w
}

pub fn focus(conn: &RustConnection, w: u32) {
    conn.set_input_focus(InputFocus::PARENT, w, CURRENT_TIME).unwrap();
    conn.sync().unwrap();
}

pub fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes()).unwrap().reply().unwrap().atom
}

/// Waits up to `secs` for the first event `pick` accepts.
pub fn wait_event<T>(conn: &RustConnection, secs: u64, mut pick: impl FnMut(&Event) -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        match conn.poll_for_event().unwrap() {
            Some(e) => {
                if let Some(t) = pick(&e) {
                    return Some(t);
                }
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

fn keycode(conn: &RustConnection, keysym: u32) -> u8 {
    let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
    let map = conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().unwrap();
    let per = map.keysyms_per_keycode as usize;
    min + map.keysyms.chunks(per).position(|s| s.contains(&keysym)).unwrap() as u8
}

/// Presses the keys (X keysyms) together, as a user pressing a shortcut.
pub fn press(conn: &RustConnection, root: u32, keysyms: &[u32]) {
    let codes: Vec<u8> = keysyms.iter().map(|k| keycode(conn, *k)).collect();
    for c in &codes {
        conn.xtest_fake_input(KEY_PRESS_EVENT, *c, CURRENT_TIME, root, 0, 0, 0).unwrap();
    }
    for c in codes.iter().rev() {
        conn.xtest_fake_input(KEY_RELEASE_EVENT, *c, CURRENT_TIME, root, 0, 0, 0).unwrap();
    }
    conn.sync().unwrap();
}

/// What the editor would paste: waits for Ctrl+V to reach it, then reads the clipboard.
pub fn pasted_into(conn: &RustConnection, editor: u32, secs: u64) -> Result<String, String> {
    // Other keys (the hotkey itself) may reach the editor first.
    let v = keycode(conn, 0x76);
    wait_event(conn, secs, |e| match e {
        Event::KeyPress(k) if k.event == editor && k.detail == v && k.state.contains(KeyButMask::CONTROL) => Some(()),
        _ => None,
    })
    .ok_or("the editor never saw Ctrl+V")?;
    let (clip, utf8, prop) = (atom(conn, "CLIPBOARD"), atom(conn, "UTF8_STRING"), atom(conn, "FRUGAL_TEST"));
    conn.convert_selection(editor, clip, utf8, prop, CURRENT_TIME).unwrap();
    conn.flush().unwrap();
    let got = wait_event(conn, 5, |e| match e {
        Event::SelectionNotify(n) if n.requestor == editor => Some(n.property),
        _ => None,
    })
    .ok_or("no answer from the clipboard's owner")?;
    if got != prop {
        return Err("the clipboard had no text".into());
    }
    let value = conn.get_property(true, editor, prop, AtomEnum::ANY, 0, 1 << 20).unwrap().reply().unwrap().value;
    String::from_utf8(value).map_err(|e| e.to_string())
}

/// Whether a top-level window titled `title` is mapped.
pub fn has_window(conn: &RustConnection, root: u32, title: &str) -> bool {
    let (name, utf8) = (atom(conn, "_NET_WM_NAME"), atom(conn, "UTF8_STRING"));
    let mut stack = vec![root];
    while let Some(w) = stack.pop() {
        if let Some(t) = conn.query_tree(w).ok().and_then(|c| c.reply().ok()) {
            stack.extend(t.children);
        }
        let value = conn.get_property(false, w, name, utf8, 0, 256).ok().and_then(|c| c.reply().ok()).map(|r| r.value);
        if value.is_some_and(|v| v == title.as_bytes()) {
            return true;
        }
    }
    false
}
