//! TPM 2.0 attestation: TCG PC Client boot event logs, quotes, AIK certificate chains, and MAA's
//! multi-round TPM protocol ([`verifier::TpmVerifier`], an `Exchange`).

#![forbid(unsafe_code)]

pub mod aik;
pub mod appraise;
pub mod eventlog;
pub mod pcp;
pub mod protocol;
pub mod quote;
pub mod request;
pub mod vbs;
pub mod verifier;
