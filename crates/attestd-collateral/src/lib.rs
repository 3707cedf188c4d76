//! Vendor collateral: the certificates and signed documents a verifier needs besides the evidence
//! (AMD's VCEKs from the Key Distribution Service; Intel DCAP collateral from a PCS / PCCS).
//!
//! [`CollateralCache`] answers from memory, then from the store (so a restart or another node does
//! not fetch again, and attestation works offline), and only then from the vendor's service: one
//! fetch per key however many requests wait for it (single-flight), and never faster than the
//! service allows ([`RateLimit`]). [`KdsVcekSource`] plugs the cache into the SEV-SNP verifier;
//! [`StoreCollateral`] (imported or fetched DCAP bundles in the store) and [`PcsCollateral`]
//! (fetching them from Intel's PCS or a PCCS) into the SGX and TDX verifiers.
//!
//! Nothing fetched is trusted: verifiers check every certificate and signature as if the
//! attester had sent it.
#![forbid(unsafe_code)]

mod cache;
mod dcap;
mod error;
mod kds;
mod limit;
pub mod pcs;

pub use cache::{Cached, CollateralCache, FetchStats, FlightGuard, Response};
pub use dcap::StoreCollateral;
pub use error::CollateralError;
pub use kds::{AMD_KDS, KdsVcekSource, vcek_key, vcek_url};
pub use limit::RateLimit;
pub use pcs::{INTEL_PCS, INTEL_ROOT_CA_CRL, PcsCollateral, PcsConfig};
