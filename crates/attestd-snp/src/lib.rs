//! AMD SEV-SNP attestation: report parsing, VCEK/VLEK chains to the AMD roots, MAA's SEV-SNP
//! claims.
//!
//! [`SnpVerifier`] implements [`attestd_evidence::Verifier`] for `/attest/SevSnpVm`:
//!
//! 1. [`SnpEvidence`] decodes MAA's evidence document (`SnpReport`, `VcekCertChain`) or a raw
//!    report, whose VCEK then comes from a [`VcekSource`].
//! 2. [`AttestationReport`] reads the 1184-byte report (versions 2 to 5).
//! 3. The VCEK/VLEK ([`Vek`]) is checked against AMD's ARK → ASK/ASVK of its generation
//!    ([`AmdRoots`], shipped in `roots/`) with RSA-PSS-SHA384, at the verification time, and against
//!    AMD's CRL when one is installed ([`AmdCrl`]). Chain signatures are cached per certificate
//!    ([`VekCache`], found by the DER's last bytes and used only for equal DER), so a report
//!    costs one P-384 verification.
//! 4. The report is bound to the key (signing key kind, generation, REPORTED_TCB = the key's TCB,
//!    CHIP_ID = hwID) and its ECDSA P-384 signature over bytes 0..0x2A0 is verified.
//! 5. Runtime data must hash (SHA-256) to REPORT_DATA[0..32] and init-time data to HOST_DATA.
//! 6. [`claims`] produces MAA's `x-ms-sevsnpvm-*` claims, and `x-ms-runtime` / `x-ms-inittime`.
//!
//! Every failure is an [`SnpError`] with a stable [`ErrorCode`], converted into
//! [`attestd_evidence::EvidenceError`].
#![forbid(unsafe_code)]

pub mod certs;
pub mod claims;
pub mod error;
pub mod evidence;
pub mod generation;
pub mod report;
pub mod verifier;

pub use certs::{AmdCrl, AmdRoots, Vek, VekCache, VekKind, VerifiedVek};
pub use error::{ErrorCode, SnpError};
pub use evidence::SnpEvidence;
pub use generation::{Generation, TcbLevels, TcbVersion};
pub use report::AttestationReport;
pub use verifier::{NoVcekSource, SnpOptions, SnpVerifier, VcekFuture, VcekRequest, VcekSource, VerifiedReport};
