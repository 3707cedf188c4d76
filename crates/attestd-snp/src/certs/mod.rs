//! Certificates: the AMD roots of each generation, VCEK/VLEK certificates and their chain, CRLs,
//! and a cache of verified chains so that a report costs one P-384 verification.

mod cache;
mod crl;
mod der;
mod roots;
mod sig;
mod vek;

use std::time::{SystemTime, UNIX_EPOCH};

use x509_parser::prelude::X509Certificate;
use x509_parser::x509::X509Name;

pub use cache::{VekCache, VerifiedVek};
pub use crl::AmdCrl;
pub use roots::{AmdCa, AmdCaRole, AmdRoots, GenerationRoots};
pub use vek::{Vek, VekKind};

use crate::error::{ErrorCode, Result, SnpError};

/// The first common name of `name`, if it is a string.
fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

/// notBefore and notAfter in Unix seconds.
fn validity(cert: &X509Certificate<'_>) -> (i64, i64) {
    let v = cert.validity();
    (v.not_before.timestamp(), v.not_after.timestamp())
}

/// `now` as Unix seconds.
pub(crate) fn unix_seconds(now: SystemTime) -> Result<i64> {
    let d = now.duration_since(UNIX_EPOCH).map_err(|_| {
        SnpError::new(
            ErrorCode::InvalidVerificationTime,
            "the verification time is before 1970",
        )
    })?;
    i64::try_from(d.as_secs()).map_err(|_| {
        SnpError::new(
            ErrorCode::InvalidVerificationTime,
            "the verification time is out of range",
        )
    })
}
