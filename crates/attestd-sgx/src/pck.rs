//! Just enough of a PCK certificate to find its collateral: the FMSPC from Intel's SGX extension
//! and which Intel CA issued it.
//!
//! This is a lookup, not a check: `attestd_dcap::QuoteVerifier` verifies the chain, parses the
//! whole extension and compares the FMSPC with the TCB info's, so a lying certificate only finds
//! collateral that then rejects it.

use attestd_dcap::PckCa;
use x509_parser::prelude::FromDer;

use crate::error::{ErrorCode, Result, fail};

/// DER of the OID 1.2.840.113741.1.13.1 (Intel SGX extensions), without tag and length.
const SGX_EXTENSIONS_OID: &str = "1.2.840.113741.1.13.1";
/// DER content of the OID 1.2.840.113741.1.13.1.4 (FMSPC).
const FMSPC_OID: [u8; 10] = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, 0x04];

/// What the collateral lookup needs from a PCK certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PckLookup {
    /// The FMSPC (family-model-stepping-platform-customSKU).
    pub fmspc: [u8; 6],
    /// The issuing CA, from the issuer's common name.
    pub ca: PckCa,
}

/// The CA named by an Intel issuer common name.
pub fn ca_from_common_name(cn: &str) -> Option<PckCa> {
    if cn.contains("Processor") {
        Some(PckCa::Processor)
    } else if cn.contains("Platform") {
        Some(PckCa::Platform)
    } else {
        None
    }
}

fn unreadable<T>(what: impl std::fmt::Display) -> Result<T> {
    fail(ErrorCode::PckCertificateUnreadable, format!("PCK certificate: {what}"))
}

/// Reads the FMSPC and the issuing CA of the PCK leaf certificate `der`.
pub fn lookup(der: &[u8]) -> Result<PckLookup> {
    let cert = match x509_parser::certificate::X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => return unreadable(format!("not DER X.509: {e}")),
    };
    let cn = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default();
    let Some(ca) = ca_from_common_name(cn) else {
        return unreadable(format!(
            "issuer '{cn}' is neither the Intel SGX PCK Processor CA nor the Platform CA"
        ));
    };
    let Some(ext) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == SGX_EXTENSIONS_OID)
    else {
        return unreadable("no Intel SGX extension (OID 1.2.840.113741.1.13.1)");
    };
    match find_fmspc(ext.value) {
        Some(fmspc) => Ok(PckLookup { fmspc, ca }),
        None => unreadable("the Intel SGX extension has no 6-byte FMSPC (OID 1.2.840.113741.1.13.1.4)"),
    }
}

/// One DER element: tag, content, and the rest of the input.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    let content = rest.get(..len)?;
    Some((tag, content, &rest[len..]))
}

/// Finds `SEQUENCE { OID fmspc, OCTET STRING (6) }` in the extension's outer SEQUENCE.
fn find_fmspc(ext: &[u8]) -> Option<[u8; 6]> {
    let (0x30, mut items, _) = tlv(ext)? else {
        return None;
    };
    while !items.is_empty() {
        let (tag, item, rest) = tlv(items)?;
        items = rest;
        if tag != 0x30 {
            continue;
        }
        let (0x06, oid, value) = tlv(item)? else {
            continue;
        };
        if oid == FMSPC_OID {
            let (0x04, fmspc, _) = tlv(value)? else {
                return None;
            };
            return fmspc.try_into().ok();
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fmspc_is_found_in_intels_encoding() {
        // The start of a real PCK extension (dcap-qvl sgx_quote): PPID, then (shortened) FMSPC.
        let ext = hex::decode(concat!(
            "3036",
            "301e060a2a864886f84d010d01010410d04ec06d4e6d92dc90d0ad3cf5ee2ddf",
            "3014060a2a864886f84d010d0104040600a067110000",
        ))
        .unwrap();
        assert_eq!(find_fmspc(&ext), Some([0x00, 0xa0, 0x67, 0x11, 0x00, 0x00]));
        assert_eq!(find_fmspc(&ext[..ext.len() - 1]), None);
        assert_eq!(find_fmspc(&[0x30, 0x00]), None);
        assert_eq!(find_fmspc(&[]), None);
        assert_eq!(find_fmspc(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn common_names_name_the_ca() {
        assert_eq!(
            ca_from_common_name("Intel SGX PCK Processor CA"),
            Some(PckCa::Processor)
        );
        assert_eq!(ca_from_common_name("Intel SGX PCK Platform CA"), Some(PckCa::Platform));
        assert_eq!(ca_from_common_name("Intel SGX Root CA"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(
            lookup(b"not a certificate").unwrap_err().code,
            ErrorCode::PckCertificateUnreadable
        );
    }
}
