//! TPM 2.0 attestation: quotes, AIK certificates, TCG event logs and MAA's TPM claims
#![forbid(unsafe_code)]
