//! SGX enclave and Open Enclave attestation: the verifier and MAA's SGX claims.
//!
//! [`SgxVerifier`] implements [`attestd_evidence::Verifier`] for `/attest/SgxEnclave` and
//! `/attest/OpenEnclave`:
//!
//! 1. [`oe`] removes Open Enclave framing (remote-report header, or evidence with OE custom
//!    claims), checking every length.
//! 2. The SGX quote is parsed by `attestd_dcap::quote::Quote`; its PCK chain, verified first
//!    (`QuoteVerifier::pck_chain`), names the FMSPC and CA under which a [`CollateralSource`]
//!    finds collateral, at the TCB baseline the policy selects with `x-ms-sgx-tcbidentifier`
//!    (`azuredefault` = the newest).
//! 3. `attestd_dcap::QuoteVerifier` checks signatures, the PCK chain and CRLs, the collateral and
//!    the TCB level; the converged TCB status must be one of [`SgxOptions::accepted_statuses`].
//! 4. Runtime data must hash (SHA-256) to REPORTDATA[0..32], init-time data to CONFIGID[0..32],
//!    OE custom claims to REPORTDATA[0..32].
//! 5. [`claims`] produces MAA's claims, `x-ms-sgx-collateral` hashes included ([`hashes`]).
//!
//! Quote and collateral failures carry `attestd_dcap::ErrorCode`s; this crate's own checks carry
//! [`ErrorCode`]s. Both become [`attestd_evidence::EvidenceError`]s.
#![forbid(unsafe_code)]

pub mod claims;
pub mod collateral;
pub mod error;
pub mod hashes;
pub mod oe;
pub mod verifier;

pub use collateral::{CollateralFuture, CollateralKey, CollateralSource, SgxCollateral, StaticCollateral};
pub use error::{ErrorCode, SgxError};
pub use hashes::CollateralHashes;
pub use verifier::{
    SgxOptions, SgxVerifier, TCB_IDENTIFIER_CLAIM, TCB_IDENTIFIER_DEFAULT, appraise_quote, tcb_baseline,
};
