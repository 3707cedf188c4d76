//! Management of providers: policy and certificate requests, and who may make them.

pub mod admin;
pub mod auth;
pub mod jws;
pub mod ops;
