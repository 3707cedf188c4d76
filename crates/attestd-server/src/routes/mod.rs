//! Route handlers. Each is a thin translation between HTTP and the service core.

pub mod admin;
pub mod attest;
pub mod certificates;
pub mod health;
pub mod metadata;
pub mod policies;
