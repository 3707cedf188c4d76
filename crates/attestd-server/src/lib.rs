//! The HTTP layer of attestd: MAA's routes, the error envelope, tenant routing, limits, metrics
//! and the TLS accept loop. Handlers only translate between HTTP and [`attestd_service::Service`].

#![forbid(unsafe_code)]

pub mod api_version;
mod app;
pub mod error;
pub mod metrics;
pub mod request;
mod routes;
mod serve;
pub mod state;
pub mod tenant;
pub mod tls;

pub use app::{App, build as router};
pub use error::ApiError;
pub use routes::admin::audit_json as routes_audit_json;
pub use serve::serve;
pub use state::{AppState, Limits};
