//! What a deploy will do, as data: targets, the plan and its steps, the server scripts each
//! step runs, and the env shipment (which variables travel in which file).

pub mod edge;
pub mod envship;
pub mod facts;
pub mod layers;
pub mod plan;
pub mod scripts;
pub mod targets;
pub mod tls;
