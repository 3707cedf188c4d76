//! Vendor collateral: the certificates and signed documents a verifier needs besides the evidence
//! (AMD's VCEKs from the Key Distribution Service today; Intel PCS collateral uses the same cache).
//!
//! [`CollateralCache`] answers from memory, then from the store (so a restart or another node does
//! not fetch again, and attestation works offline), and only then from the vendor's service: one
//! fetch per key however many requests wait for it (single-flight), and never faster than the
//! service allows ([`RateLimit`]). [`KdsVcekSource`] plugs the cache into the SEV-SNP verifier.
//!
//! Nothing fetched is trusted: verifiers check every certificate and signature as if the
//! attester had sent it.
#![forbid(unsafe_code)]

mod cache;
mod error;
mod kds;
mod limit;

pub use cache::{Cached, CollateralCache, FetchStats};
pub use error::CollateralError;
pub use kds::{AMD_KDS, KdsVcekSource, vcek_key, vcek_url};
pub use limit::RateLimit;
