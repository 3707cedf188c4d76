//! SGX enclave and Open Enclave attestation: the verifier and MAA's SGX claims
#![forbid(unsafe_code)]
