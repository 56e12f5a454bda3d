//! Secret generation, completion and rotation as plans: which value each variable gets,
//! which files change, and the rotation records; randomness and time come in as arguments.

pub mod complete;
pub mod envdoc;
pub mod generate;
pub mod layered;
pub mod meta;
pub mod rotate;
pub mod store;
