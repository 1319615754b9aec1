//! Errors as each protocol shapes them. An OpenAI client reads `{"error": {message, type,
//! code}}`, an Anthropic client `{"type": "error", "error": {type, message}}`; both SDKs retry
//! 429s unless told not to, so a budget refusal carries `x-should-retry: false` and a
//! `Retry-After` to the month's reset.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which wire protocol a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// Why the gateway did not answer. The message is one line, safe to show: no token, no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The request is malformed or asks for something the protocol or Frugal does not do.
    BadRequest(String),
    /// No token, or one no app has.
    Unauthorized(String),
    /// The app may not do this (a model outside its list, the cloud for a local-only app).
    Forbidden(String),
    /// No such model.
    NotFound(String),
    /// The body is over the limit.
    TooLarge(String),
    /// A cap refused the request: which cap and what is left; seconds to its reset.
    Budget(String, u64),
    /// The upstream provider or the local engine failed.
    Upstream(String),
    /// The upstream asked us to slow down.
    RateLimited(String),
    /// The gateway itself failed.
    Internal(String),
}

impl Problem {
    fn status(&self) -> StatusCode {
        match self {
            Problem::BadRequest(_) => StatusCode::BAD_REQUEST,
            Problem::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Problem::Forbidden(_) => StatusCode::FORBIDDEN,
            Problem::NotFound(_) => StatusCode::NOT_FOUND,
            Problem::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::Budget(..) | Problem::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Problem::Upstream(_) => StatusCode::BAD_GATEWAY,
            Problem::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        match self {
            Problem::BadRequest(m)
            | Problem::Unauthorized(m)
            | Problem::Forbidden(m)
            | Problem::NotFound(m)
            | Problem::TooLarge(m)
            | Problem::Budget(m, _)
            | Problem::Upstream(m)
            | Problem::RateLimited(m)
            | Problem::Internal(m) => m,
        }
    }

    /// The error body in `protocol`'s shape.
    pub fn body(&self, protocol: Protocol) -> serde_json::Value {
        let message = self.message();
        match protocol {
            Protocol::OpenAi => {
                let (kind, code) = match self {
                    Problem::BadRequest(_) | Problem::TooLarge(_) => ("invalid_request_error", None),
                    Problem::Unauthorized(_) => ("authentication_error", Some("invalid_api_key")),
                    Problem::Forbidden(_) => ("permission_error", None),
                    Problem::NotFound(_) => ("invalid_request_error", Some("model_not_found")),
                    Problem::Budget(..) => ("insufficient_quota", Some("budget_exceeded")),
                    Problem::RateLimited(_) => ("rate_limit_error", Some("rate_limit_exceeded")),
                    Problem::Upstream(_) | Problem::Internal(_) => ("server_error", None),
                };
                json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
            }
            Protocol::Anthropic => {
                let kind = match self {
                    Problem::BadRequest(_) => "invalid_request_error",
                    Problem::TooLarge(_) => "request_too_large",
                    Problem::Unauthorized(_) => "authentication_error",
                    Problem::Forbidden(_) => "permission_error",
                    Problem::NotFound(_) => "not_found_error",
                    Problem::Budget(..) | Problem::RateLimited(_) => "rate_limit_error",
                    Problem::Upstream(_) | Problem::Internal(_) => "api_error",
                };
                json!({ "type": "error", "error": { "type": kind, "message": message } })
            }
        }
    }

    /// The whole response.
    pub fn response(&self, protocol: Protocol) -> Response {
        let mut headers = HeaderMap::new();
        if let Problem::Budget(_, retry_after) = self {
            headers.insert("retry-after", HeaderValue::from(*retry_after));
            // The official SDKs retry 429s by default; a budget does not refill in seconds.
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        (self.status(), headers, axum::Json(self.body(protocol))).into_response()
    }
}

/// A problem with the protocol to answer it in.
pub struct Failure(pub Protocol, pub Problem);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.1.response(self.0)
    }
}
