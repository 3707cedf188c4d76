//! Intel DCAP: quote parsing (SGX v3/v4, TDX v4/v5), PCK certificates, collateral and TCB evaluation
#![forbid(unsafe_code)]

pub mod collateral;
pub mod error;
pub mod pck;
pub mod quote;
pub mod tcb;
pub mod tcb_info;
pub mod verify;
mod x509;

/// PEM certificate chains (shared with the other verifiers).
pub use attestd_evidence::pem;
pub use collateral::{Collateral, CollateralParts};
pub use error::{DcapError, ErrorCode};
pub use verify::{PckCa, PckChain, QuoteVerifier, TrustAnchors, Verified};
