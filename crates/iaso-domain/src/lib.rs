//! Domain types shared by storage, API, tasks and CLI. Nothing here does I/O.

pub mod account;
pub mod forms;
pub mod ids;
pub mod json_fields;
pub mod password;
pub mod periods;
pub mod permissions;
pub mod project;
pub mod submission;
pub mod user;
pub mod validation;

pub use ids::*;
pub use permissions::{Module, Permission};
pub use validation::FieldErrors;
