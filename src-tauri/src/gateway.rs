//! Settings → Gateway: the same gateway as `frugal serve`, served by the app while it runs
//! (`[gateway] enabled`), over the app's one assistant, so the tools on the machine share
//! its engine, caps and ledger. The listener is bound here, synchronously, so "port in use"
//! is an error in the window, not a silent nothing; the server then runs on Tauri's runtime
//! until it is turned off, its port changes, or the app quits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use frugal_core::config::GatewaySection;
use frugal_core::ledger::{micros_from_usd, usd, App, Month};
use frugal_core::Assistant;
use serde::Serialize;
use specta::Type;
use tauri::State;

use crate::commands::{blocking, now_ms};
use crate::error::{CmdResult, CommandError};
use crate::state::AppState;
use crate::views::n32;

/// The gateway the app serves, if any.
#[derive(Default)]
pub struct Served {
    running: Mutex<Option<Running>>,
    /// Why the last start failed, or why the server stopped (shown in Settings until the
    /// next try).
    error: Arc<Mutex<Option<String>>>,
}

struct Running {
    /// The settings it was started with: any change (the address, CORS, the cache) restarts it.
    section: GatewaySection,
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// False once the server task has ended (an accept error).
    alive: Arc<AtomicBool>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stops taking requests; those in flight finish and settle.
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Served {
    /// Starts, stops or moves the gateway to match the config. Returns the start's error.
    pub fn sync(&self, assistant: &Arc<Assistant>) -> Result<(), String> {
        let g = assistant.config().gateway.clone();
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let same = running.as_ref().is_some_and(|r| r.section == g && r.alive.load(Ordering::SeqCst));
        if same || (running.is_none() && !g.enabled) {
            return Ok(());
        }
        // Stopping the old server frees its port a moment later (its task drops the listener).
        let replacing = running.take().is_some();
        if !g.enabled {
            *self.error.lock().unwrap_or_else(PoisonError::into_inner) = None;
            return Ok(());
        }
        let addr = GatewaySection::address(g.host(), g.port());
        let alive = Arc::new(AtomicBool::new(true));
        let started = start(assistant.clone(), &addr, replacing, alive.clone(), self.error.clone());
        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = started.as_ref().err().cloned();
        *running = Some(Running { section: g, addr, stop: Some(started?), alive });
        Ok(())
    }

    /// Stops the server and waits, at most `within`, until the requests in flight have
    /// finished and every metered row has settled: the app is quitting, and a row left
    /// pending would be charged its worst case at the next start, not what was used.
    pub fn stop(&self, within: std::time::Duration) {
        let until = std::time::Instant::now() + within;
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        // Dropping it tells the server to stop taking requests.
        let alive = running.map(|r| r.alive.clone());
        while (alive.as_ref().is_some_and(|a| a.load(Ordering::SeqCst)) || frugal_core::unsettled() > 0)
            && std::time::Instant::now() < until
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Where it listens, when it does.
    pub fn address(&self) -> Option<String> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.as_ref().filter(|r| r.alive.load(Ordering::SeqCst)).map(|r| r.addr.clone())
    }

    /// Why it is not running although enabled.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn start(
    assistant: Arc<Assistant>,
    addr: &str,
    replacing: bool,
    alive: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
) -> Result<tokio::sync::oneshot::Sender<()>, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(if replacing { 3 } else { 0 });
    let listener = loop {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => break l,
            // The server being replaced may still hold the port for a moment.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot listen on {addr}: {e}")),
        }
    };
    listener.set_nonblocking(true).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = addr.to_string();
    tauri::async_runtime::spawn(async move {
        let served = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => frugal_gateway::serve(l, assistant, frugal_gateway::DEFAULT_BODY_LIMIT, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        alive.store(false, Ordering::SeqCst);
        if let Err(e) = served {
            *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(format!("the gateway on {addr} stopped: {e}"));
        }
    });
    Ok(stop)
}

/// One app allowed to call the gateway, with this month's spend.
#[derive(Clone, Debug, Serialize, Type)]
pub struct GatewayAppView {
    pub name: String,
    pub budget_usd: Option<f64>,
    pub spent_usd: f64,
    pub requests: u32,
    pub local_share: f64,
    pub local_only: bool,
    pub cache: bool,
    pub models: Vec<String>,
}

/// A copy-paste snippet for one tool.
#[derive(Clone, Debug, Serialize, Type)]
pub struct Snippet {
    pub tool: String,
    pub text: String,
}

/// Settings → Gateway.
#[derive(Clone, Debug, Serialize, Type)]
pub struct GatewayView {
    pub enabled: bool,
    /// Serving now.
    pub running: bool,
    pub port: u16,
    /// `http://127.0.0.1:4141/v1`.
    pub base_url: String,
    /// Why it is not running although enabled.
    pub error: Option<String>,
    pub apps: Vec<GatewayAppView>,
    pub snippets: Vec<Snippet>,
}

/// A new app's token, shown once, and the gateway with it.
#[derive(Clone, Debug, Serialize, Type)]
pub struct NewAppView {
    pub token: String,
    pub gateway: GatewayView,
}

/// Snippets for the official SDKs and the tools people point at an OpenAI-compatible URL.
/// `TOKEN` stands for the app's token (never known here after it was shown).
pub fn snippets(base_url: &str) -> Vec<Snippet> {
    let root = base_url.trim_end_matches("/v1");
    let s = |tool: &str, text: String| Snippet { tool: tool.into(), text };
    vec![
        s(
            "OpenAI SDK (Python)",
            format!(
                "from openai import OpenAI\nclient = OpenAI(base_url=\"{base_url}\", api_key=\"TOKEN\")\nreply = client.chat.completions.create(\n    model=\"frugal/auto\",\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)"
            ),
        ),
        s(
            "OpenAI SDK (Node)",
            format!(
                "import OpenAI from \"openai\";\nconst client = new OpenAI({{ baseURL: \"{base_url}\", apiKey: \"TOKEN\" }});\nconst reply = await client.chat.completions.create({{\n  model: \"frugal/auto\",\n  messages: [{{ role: \"user\", content: \"Hello\" }}],\n}});"
            ),
        ),
        s(
            "Anthropic SDK (Python)",
            format!(
                "from anthropic import Anthropic\nclient = Anthropic(base_url=\"{root}\", api_key=\"TOKEN\")\nreply = client.messages.create(\n    model=\"frugal/auto\", max_tokens=1024,\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)"
            ),
        ),
        s(
            "Continue (config.yaml)",
            format!(
                "models:\n  - name: Frugal\n    provider: openai\n    model: frugal/auto\n    apiBase: {base_url}\n    apiKey: TOKEN"
            ),
        ),
        s(
            "Open WebUI",
            format!(
                "Admin Settings → Connections → OpenAI API:\n  URL: {base_url}\n  Key: TOKEN\n(from Docker, use http://host.docker.internal:PORT/v1 and set [gateway] host = \"0.0.0.0\")"
            ),
        ),
        s("aider", format!("aider --openai-api-base {base_url} --openai-api-key TOKEN --model openai/frugal/auto")),
    ]
}

/// The gateway's settings, state and apps.
pub fn view(state: &AppState) -> CmdResult<GatewayView> {
    let a = state.assistant();
    let g = a.config().gateway.clone();
    let host = match g.host() {
        "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let base_url = format!("http://{}/v1", GatewaySection::address(host, g.port()));
    let apps = a
        .spend()
        .apps(Month::containing(now_ms()))?
        .into_iter()
        .map(|s| GatewayAppView {
            budget_usd: s.app.monthly_micros.map(usd),
            spent_usd: usd(s.spent_micros),
            requests: n32(s.requests),
            local_share: s.local_share,
            local_only: s.app.local_only,
            cache: s.app.cache,
            models: s.app.models,
            name: s.app.name,
        })
        .collect();
    let served = state.gateway();
    Ok(GatewayView {
        enabled: g.enabled,
        running: served.address().is_some(),
        port: g.port(),
        error: served.error(),
        snippets: snippets(&base_url),
        base_url,
        apps,
    })
}

/// Settings → Gateway.
#[tauri::command]
#[specta::specta]
pub async fn gateway(state: State<'_, AppState>) -> CmdResult<GatewayView> {
    view(&state)
}

/// Turns the gateway on or off (and moves it to `port`); saved in the config.
#[tauri::command]
#[specta::specta]
pub async fn set_gateway(state: State<'_, AppState>, enabled: bool, port: Option<u16>) -> CmdResult<GatewayView> {
    state.change(|a| a.settings().set_gateway(enabled, port))?;
    if let Err(e) = state.sync_gateway() {
        return Err(CommandError::new("input", e));
    }
    view(&state)
}

/// Allows a new app to call the gateway; its token is in the answer, this once.
#[tauri::command]
#[specta::specta]
pub async fn add_gateway_app(
    state: State<'_, AppState>,
    name: String,
    monthly_usd: Option<f64>,
    local_only: bool,
) -> CmdResult<NewAppView> {
    let a = state.assistant();
    let token = blocking(move || {
        let monthly_micros = monthly_usd.map(micros_from_usd).transpose()?;
        let app = App {
            name: name.trim().to_string(),
            monthly_micros,
            local_only,
            models: Vec::new(),
            cache: true,
            created_at_ms: now_ms(),
        };
        Ok(a.spend().add_app(&app)?)
    })
    .await?;
    Ok(NewAppView { token, gateway: view(&state)? })
}

/// Removes an app: its token stops working at once.
#[tauri::command]
#[specta::specta]
pub async fn remove_gateway_app(state: State<'_, AppState>, name: String) -> CmdResult<GatewayView> {
    state.assistant().spend().remove_app(&name)?;
    view(&state)
}
