// No console window on Windows release builds: the app lives in the tray.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Started to read one PDF for the indexer (see `extract::pdf`): does that and exits,
    // before any window system is touched.
    frugal_core::index::extract::pdf::reader_main();
    match frugal_app::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frugal-app: error: {}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" "));
            std::process::ExitCode::FAILURE
        }
    }
}
