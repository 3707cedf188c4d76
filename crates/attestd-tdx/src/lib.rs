//! Intel TDX attestation: the `/attest/TdxVm` verifier and MAA's TDX claims (reference C.5.2).
//!
//! [`TdxVerifier`] implements [`attestd_evidence::Verifier`]:
//!
//! 1. The quote (v4, or v5 with a TD 1.0 / 1.5 body) is parsed by `attestd_dcap::quote::Quote`;
//!    its PCK certificate names the FMSPC and CA under which the shared
//!    [`attestd_sgx::CollateralSource`] finds TDX collateral (TDX TCB info, TD QE identity).
//! 2. `attestd_dcap::QuoteVerifier` checks the signatures, the PCK chain and CRLs, the collateral,
//!    the TD QE identity, the platform TCB level and the TDX module's; the converged status must be
//!    one of [`TdxOptions::accepted_statuses`].
//! 3. Runtime data must hash (SHA-256) to REPORTDATA\[0..32\], init-time data to MRCONFIGID\[0..32\].
//! 4. [`claims`] produces MAA's `tdx_*` claims with `attester_tcb_status`.
#![forbid(unsafe_code)]

pub mod claims;
mod verifier;

pub use verifier::{ErrorCode, TdxOptions, TdxVerifier};
