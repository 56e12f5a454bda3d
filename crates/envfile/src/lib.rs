//! The env schema, a Docker Compose-compatible env file reader and the verify rules.
//!
//! This crate does no I/O beyond reading the files it is handed: no Docker, no SSH, no
//! printing. Callers (the xtask, the reference server's build script) decide presentation.

pub mod compose;
pub mod divergence;
pub mod env;
pub mod layers;
pub mod sample;
pub mod schema;
pub mod secret;
mod template;
pub mod verify;

pub use compose::{Entry, ParseError};
pub use env::Env;
pub use schema::{Delivery, Format, Generator, LoadError, OpaquePrefix, Plane, Schema, Variable};
pub use secret::Secret;
pub use verify::{Code, Facts, Finding, GitFacts, Overdue, Severity};
