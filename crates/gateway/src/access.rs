//! Who is calling and where their request may go. A request names its app with a token
//! (`Authorization: Bearer …` or `x-api-key: …`); the app's rules and the model asked for
//! become the router's options. The gateway decides nothing about money: the router, the
//! meter and the ledger do, as for Frugal's own tasks.

use std::sync::Arc;

use axum::http::HeaderMap;
use frugal_core::config::Tier;
use frugal_core::ledger::App;
use frugal_core::{AppScope, Assistant, Pin, RouteOptions};

use crate::error::Problem;

/// The models every gateway offers, besides each configured provider's `PROVIDER/MODEL`.
pub const FRUGAL_MODELS: [&str; 4] = ["frugal/auto", "frugal/local", "frugal/economy", "frugal/premium"];

/// The token a request carries, if any.
fn token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    // An empty one of the two (a client that sends `Bearer ` with nothing set) does not
    // hide the other.
    let given = |t: Option<&str>| t.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    given(bearer).or_else(|| given(key))
}

/// The app behind the request's token; a missing or unknown token is a 401 that names no
/// token (the message never echoes what was sent).
pub async fn authenticate(assistant: &Arc<Assistant>, headers: &HeaderMap) -> Result<App, Problem> {
    let Some(token) = token(headers) else {
        return Err(Problem::Unauthorized(
            "no token: send an app's token as `Authorization: Bearer TOKEN` or `x-api-key` (create one with `frugal apps add NAME`)"
                .into(),
        ));
    };
    // Inline, not on the blocking pool: one indexed read of a cached statement on the ledger
    // (opened when the gateway started) takes microseconds, less than the two thread
    // wake-ups a hop to the pool and back would cost every request.
    let found = assistant
        .spend()
        .app_for_token(&token)
        .map_err(|e| Problem::Internal(format!("cannot read the apps from the spend ledger: {e}")))?;
    found.ok_or_else(|| Problem::Unauthorized("this token belongs to no app (see `frugal apps list`)".into()))
}

/// Every model name `app` may ask for here: Frugal's routes whose tier has a provider, and
/// each provider's model — none of the cloud ones for a local-only app.
pub fn models(assistant: &Assistant, app: &App) -> Vec<String> {
    let config = assistant.config();
    let tier_of = |m: &str| match m {
        "frugal/economy" => Some(Tier::Economy),
        "frugal/premium" => Some(Tier::Premium),
        _ => None,
    };
    FRUGAL_MODELS
        .iter()
        .filter(|m| match tier_of(m) {
            Some(t) => !app.local_only && config.provider_for(t).is_some(),
            None => true,
        })
        .map(|m| m.to_string())
        .chain(config.providers.iter().filter(|_| !app.local_only).map(|p| format!("{}/{}", p.name, p.model)))
        .filter(|m| app.allows(m))
        .collect()
}

/// The router's options for `app` asking for `model`; `private` is the request's
/// `x-frugal-private: 1`.
pub fn route_for(assistant: &Assistant, app: &App, model: &str, private: bool) -> Result<RouteOptions, Problem> {
    let mut opts = RouteOptions {
        app: Some(AppScope { name: app.name.clone(), monthly_micros: app.monthly_micros }),
        private,
        local_only: app.local_only,
        ..RouteOptions::default()
    };
    let cloud_only = match model {
        "frugal/auto" => false,
        "frugal/local" => {
            opts.local_only = true;
            false
        }
        "frugal/economy" => {
            opts.pin = Some(Pin::Tier(Tier::Economy));
            true
        }
        "frugal/premium" => {
            opts.pin = Some(Pin::Tier(Tier::Premium));
            true
        }
        other => {
            let config = assistant.config();
            let entry = other
                .split_once('/')
                .and_then(|(name, m)| config.providers.iter().find(|p| p.name == name && p.model == m));
            let Some(entry) = entry else {
                return Err(Problem::NotFound(format!(
                    "no model `{}` here: use frugal/auto, frugal/local, frugal/economy, frugal/premium or PROVIDER/MODEL (GET /v1/models lists them)",
                    one_line(other)
                )));
            };
            opts.pin = Some(Pin::Provider(entry.name.clone()));
            true
        }
    };
    if !app.allows(model) {
        return Err(Problem::Forbidden(format!(
            "app `{}` may not use `{}` (its models: {})",
            app.name,
            one_line(model),
            app.models.join(", ")
        )));
    }
    if cloud_only && app.local_only {
        return Err(Problem::Forbidden(format!(
            "app `{}` is local-only: `{}` is a cloud model; use frugal/local or frugal/auto",
            app.name,
            one_line(model)
        )));
    }
    if cloud_only && private {
        return Err(Problem::Forbidden(format!(
            "this request is marked private (x-frugal-private): `{}` is a cloud model; use frugal/local or frugal/auto",
            one_line(model)
        )));
    }
    Ok(opts)
}

/// A client's text in a message: one line, at most 80 characters.
pub fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// The same for a longer text (an error that quotes a value): at most 240 characters.
pub fn one_line_long(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(240).collect()
}
