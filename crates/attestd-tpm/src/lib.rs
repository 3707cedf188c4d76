//! TPM 2.0 attestation: TCG PC Client boot event logs and quotes; AIK certificate chains and MAA's
//! TPM protocol follow.

#![forbid(unsafe_code)]

pub mod aik;
pub mod appraise;
pub mod eventlog;
pub mod protocol;
pub mod quote;
pub mod request;
