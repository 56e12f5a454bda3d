//! The redacting wrapper for the secrets the server holds: `secretkit`'s, the one the deploy
//! tool uses too (a small pure-Rust crate, so the static binary stays lean).

pub use secretkit::Secret;
