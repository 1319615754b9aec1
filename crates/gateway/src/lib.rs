//! `frugal serve`: one budget-capped gateway for every AI tool on the machine. It speaks
//! OpenAI Chat Completions and Anthropic Messages on 127.0.0.1, turns each wire request into
//! a chat call on Frugal's router (local first, metered, capped globally and per app) and
//! core's events back into each protocol's answer or stream. It holds no budget logic of its
//! own: a request costs, reserves and settles exactly as the CLI's do.
//!
//! Layout: `access` (tokens → apps, model names → route options), `call` (one call through
//! core, stop sequences), `openai` and `anthropic` (each protocol's types and handlers),
//! `wire` (bodies, content, headers, SSE), `error` (each protocol's error shape).

pub mod access;
pub mod anthropic;
pub mod call;
pub mod error;
pub mod openai;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::{get, post};
use frugal_core::Assistant;

pub use wire::Gateway;

/// The largest request body taken by default: 8 MiB is a long conversation, not a file dump.
pub const DEFAULT_BODY_LIMIT: usize = 8 << 20;

/// The gateway's routes over `gateway`.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
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
    let gateway = Arc::new(Gateway { assistant, body_limit });
    axum::serve(listener, router(gateway)).with_graceful_shutdown(shutdown).await
}
