//! Why collateral could not be obtained.

use std::time::Duration;

/// A collateral lookup that failed. Every variant is retryable from the attester's point of view:
/// verifiers report it as "collateral unavailable", never as bad evidence.
#[derive(Debug, thiserror::Error)]
pub enum CollateralError {
    /// Nothing is cached and fetching is disabled (offline mode, or no service URL configured).
    #[error("no cached collateral for '{key}' and fetching is disabled")]
    NotCached {
        /// The cache key.
        key: String,
    },
    /// The vendor's service does not have it (HTTP 404).
    #[error("{url} has no such collateral (HTTP 404)")]
    NotFound {
        /// The URL asked.
        url: String,
    },
    /// The rate limit would make this request wait longer than allowed.
    #[error("the collateral service's rate limit allows the next request in {}s", retry_after.as_secs())]
    RateLimited {
        /// How long until a request would be allowed.
        retry_after: Duration,
    },
    /// The fetch failed: network, timeout, or an unexpected HTTP status.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The store could not be read or written.
    #[error("collateral store: {0}")]
    Store(String),
}
