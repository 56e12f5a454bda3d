//! The reference app's server as a library, so integration tests can drive the router
//! without a socket; `main.rs` only parses settings and serves.

pub mod app;
pub mod config;
pub mod format;
pub mod jwt;
pub mod limit;
pub mod log;
pub mod secret;
pub mod settings;
