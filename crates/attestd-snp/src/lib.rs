//! AMD SEV-SNP attestation: report parsing, VCEK/VLEK chains to the AMD roots, MAA's SEV-SNP claims
#![forbid(unsafe_code)]
