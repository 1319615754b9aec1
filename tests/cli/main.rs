//! End-to-end tests of the `frugal` binary on the real default model.
//!
//! One test binary (fast to link) with a temp-dir harness: every test gets its own config,
//! data and home folders, so nothing touches the developer's real config.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod harness;
mod http;

mod bench;
mod chat;
mod cloud;
mod draft;
mod eval;
mod gateway;
mod gateway_cache;
mod gateway_schema;
mod gateway_sdk;
mod gateway_tools;
mod hardening;
mod hw;
mod index;
mod levers;
mod meaning;
mod models;
mod speech;
mod summarize;
