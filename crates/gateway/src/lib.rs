//! `frugal serve`: one budget-capped gateway for every AI tool on the machine. It speaks
//! OpenAI Chat Completions and Anthropic Messages on 127.0.0.1, turns each wire request into
//! a chat call on Frugal's router (local first, metered, capped globally and per app) and
//! core's events back into each protocol's answer or stream. It holds no budget logic of its
//! own: a request costs, reserves and settles exactly as the CLI's do.
//!
//! Layout: `access` (tokens → apps, model names → route options), `call` (one call through
//! core, stop sequences), `cache` (answers to repeatable requests), `openai` and `anthropic` (each protocol's types and handlers),
//! `wire` (bodies, content, headers, SSE), `error` (each protocol's error shape).

pub mod access;
pub mod anthropic;
pub mod cache;
pub mod call;
pub mod error;
pub mod openai;
pub mod tools;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::{get, post};
use frugal_core::Assistant;

pub use wire::Gateway;

/// The largest request body taken by default: 8 MiB is a long conversation, not a file dump.
pub const DEFAULT_BODY_LIMIT: usize = 8 << 20;

/// The gateway's routes over `gateway`, open to the web pages `[gateway] cors_origins` names.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    let origins = gateway.assistant.config().gateway.cors_origins.clone();
    let routes = routes(gateway);
    match cors(&origins) {
        Some(layer) => routes.layer(layer),
        None => routes,
    }
}

/// CORS for `origins`: none by default, so a web page the user visits cannot spend their
/// budget through the gateway. The SDKs' own headers are allowed; Frugal's are readable.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let expose = [
        "x-frugal-route",
        "x-frugal-cost-usd",
        "x-frugal-run-id",
        "x-frugal-escalated",
        "x-frugal-cache",
        "x-frugal-queue-ms",
        "x-frugal-schema",
    ]
    .map(HeaderName::from_static);
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(expose)
            .max_age(std::time::Duration::from_secs(600)),
    )
}

fn routes(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/messages", post(anthropic::messages_handler))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/health", get(|| async { "ok" }))
        .fallback(|uri: axum::http::Uri| async move {
            let problem = error::Problem::NotFound(format!(
                "no endpoint {}: this gateway serves /v1/chat/completions, /v1/models, /v1/messages and /v1/messages/count_tokens",
                access::one_line(uri.path())
            ));
            problem.response(protocol_of(&uri)).into_response()
        })
        .method_not_allowed_fallback(|uri: axum::http::Uri, method: axum::http::Method| async move {
            let problem = error::Problem::BadRequest(format!("{method} is not served on {}", access::one_line(uri.path())));
            let mut r = problem.response(protocol_of(&uri));
            *r.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
            r
        })
        .with_state(gateway)
}

/// Anthropic's paths get Anthropic's error shape; everything else OpenAI's.
fn protocol_of(uri: &axum::http::Uri) -> error::Protocol {
    if uri.path().starts_with("/v1/messages") {
        error::Protocol::Anthropic
    } else {
        error::Protocol::OpenAi
    }
}

/// Serves on `listener` until `shutdown` resolves, then stops taking requests and lets the
/// ones in flight finish, so every row they opened is settled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    assistant: Arc<Assistant>,
    body_limit: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gateway = Arc::new(Gateway::new(assistant, body_limit));
    axum::serve(listener, router(gateway)).with_graceful_shutdown(shutdown).await
}
