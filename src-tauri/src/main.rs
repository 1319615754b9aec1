// No console window on Windows release builds: the app lives in the tray.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    match frugal_app::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frugal-app: error: {}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" "));
            std::process::ExitCode::FAILURE
        }
    }
}
