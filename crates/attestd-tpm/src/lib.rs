//! TPM 2.0 attestation: TCG PC Client boot event logs today; quotes, AIK certificates and MAA's
//! TPM protocol follow.

#![forbid(unsafe_code)]

pub mod eventlog;
