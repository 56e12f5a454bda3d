//! The redacting wrapper for secret values lives in `secretkit`, shared with the xtask and
//! the reference server; envfile re-exports it so its API stays `envfile::Secret`.

pub use secretkit::{Secret, mask};
