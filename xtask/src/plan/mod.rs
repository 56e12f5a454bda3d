//! Effect-free planning: rendering the compose file and the generated docs, deploy plans and
//! their server scripts, the env shipment, secret generation and rotation plans, the
//! Dockerfile lint. Nothing here touches Docker, SSH, processes, files or the clock: facts
//! come in as values and plans go out as data.

pub mod codegen;
pub mod compose;
pub mod deploy;
pub mod dockerfile_lint;
pub mod secrets;
