//! Certificate chains and CRLs of Intel's PKI, checked with x509-parser (parsing) and aws-lc-rs
//! (ECDSA P-256 / SHA-256 signatures). Validity windows are recorded, not checked here, so a
//! verified chain can be cached and its windows checked at every use.

use std::collections::HashSet;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::{DcapError, ErrorCode, Result};

/// DER of OID 1.2.840.10045.4.3.2 (ecdsa-with-SHA256), the only signature algorithm Intel uses.
const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// Longest chain accepted (Intel's are 2 or 3 certificates).
const MAX_CHAIN: usize = 4;

/// A P-256 public key, parsed once for fast verification.
#[derive(Clone)]
pub(crate) struct P256Key {
    /// Uncompressed SEC1 point (0x04 ‖ x ‖ y).
    pub point: Vec<u8>,
    asn1: ParsedPublicKey,
    fixed: ParsedPublicKey,
}

impl std::fmt::Debug for P256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P256Key({})", hex::encode(&self.point))
    }
}

impl P256Key {
    /// The key of the uncompressed point `point`; `None` if it is not a P-256 point.
    pub fn from_point(point: &[u8]) -> Option<P256Key> {
        Some(P256Key {
            point: point.to_vec(),
            asn1: ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).ok()?,
            fixed: ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?,
        })
    }

    /// Verifies a DER-encoded ECDSA signature (certificates, CRLs).
    pub fn verify_der(&self, message: &[u8], signature: &[u8]) -> bool {
        self.asn1.verify_sig(message, signature).is_ok()
    }

    /// Verifies an r‖s signature (quotes, collateral JSON).
    pub fn verify_fixed(&self, message: &[u8], signature: &[u8]) -> bool {
        self.fixed.verify_sig(message, signature).is_ok()
    }
}

/// What a verifier needs of one certificate after its signature was checked.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    /// The subject's common name (for messages), or the whole subject.
    pub name: String,
    /// DER of the subject name.
    pub subject: Vec<u8>,
    /// The serial number without leading zero bytes.
    pub serial: Vec<u8>,
    /// The certified key.
    pub key: P256Key,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// The Intel SGX extension's value (PCK certificates only).
    pub sgx_extension: Option<Vec<u8>>,
}

/// A trusted root, kept by subject and key.
#[derive(Clone, Debug)]
pub(crate) struct Anchor {
    pub info: CertInfo,
}

/// Codes a chain check reports with: the PCK chain's or a collateral issuer chain's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChainCodes {
    pub malformed: ErrorCode,
    pub invalid: ErrorCode,
}

/// Strips leading zero bytes of a DER INTEGER's content (serials compare by value).
pub(crate) fn normalize_serial(raw: &[u8]) -> Vec<u8> {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw.get(start..).unwrap_or_default().to_vec()
}

/// Parses one certificate into [`CertInfo`] and returns its signed part, signature and issuer.
fn parse_cert<'a>(der: &'a [u8], what: &str, code: ErrorCode) -> Result<(CertInfo, X509Certificate<'a>)> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| DcapError::new(code, format!("{what}: not an X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(DcapError::new(code, format!("{what}: bytes after the certificate")));
    }
    let spki = cert.public_key();
    let key = P256Key::from_point(&spki.subject_public_key.data)
        .ok_or_else(|| DcapError::new(code, format!("{what}: the key is not an ECDSA P-256 key")))?;
    let name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map_or_else(|| cert.subject().to_string(), str::to_owned);
    let sgx_extension = cert
        .extensions()
        .iter()
        .find(|e| e.oid.as_bytes() == crate::pck::SGX_EXTENSION_OID)
        .map(|e| e.value.to_vec());
    let info = CertInfo {
        name,
        subject: cert.subject().as_raw().to_vec(),
        serial: normalize_serial(cert.raw_serial()),
        key,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sgx_extension,
    };
    Ok((info, cert))
}

/// Parses a trust anchor certificate.
pub(crate) fn parse_anchor(der: &[u8]) -> Result<Anchor> {
    let (info, _) = parse_cert(der, "trust anchor", ErrorCode::CollateralChainInvalid)?;
    Ok(Anchor { info })
}

/// Verifies a chain (leaf first) up to one of `anchors`. A certificate equal to an anchor by subject
/// and key ends the chain (trust by key, so any encoding of the root works); otherwise the last
/// certificate must be signed by an anchor. Returns the certificates' info, leaf first, ending with
/// the anchor's (whose validity is the anchor's own).
pub(crate) fn verify_chain(
    ders: &[Vec<u8>],
    anchors: &[Anchor],
    what: &str,
    codes: ChainCodes,
) -> Result<Vec<CertInfo>> {
    if ders.is_empty() || ders.len() > MAX_CHAIN {
        return Err(DcapError::new(
            codes.malformed,
            format!("{what}: {} certificates (1 to {MAX_CHAIN} expected)", ders.len()),
        ));
    }
    let mut parsed = Vec::with_capacity(ders.len());
    for (i, der) in ders.iter().enumerate() {
        parsed.push(parse_cert(der, &format!("{what} certificate {i}"), codes.malformed)?);
    }
    let is_anchor = |info: &CertInfo| {
        anchors
            .iter()
            .find(|a| a.info.subject == info.subject && a.info.key.point == info.key.point)
    };
    let mut out = Vec::with_capacity(parsed.len() + 1);
    for i in 0..parsed.len() {
        let Some((info, cert)) = parsed.get(i) else { break };
        if let Some(anchor) = is_anchor(info) {
            out.push(anchor.info.clone());
            return Ok(out);
        }
        check_signature_algorithm(cert, what, codes.invalid)?;
        let issuer_raw = cert.issuer().as_raw();
        let signed = cert.tbs_certificate.as_ref();
        let signature = &cert.signature_value.data;
        let (issuer_info, issuer_is_anchor) = match parsed.get(i + 1) {
            Some((next, next_cert)) => {
                if !is_ca(next_cert) {
                    return Err(DcapError::new(
                        codes.invalid,
                        format!("{what}: issuer '{}' is not a CA", next.name),
                    ));
                }
                match is_anchor(next) {
                    Some(a) => (&a.info, true),
                    None => (next, false),
                }
            }
            None => match anchors.iter().find(|a| a.info.subject == issuer_raw) {
                Some(a) => (&a.info, true),
                None => {
                    return Err(DcapError::new(
                        codes.invalid,
                        format!("{what}: '{}' is not issued by a trusted root", info.name),
                    ));
                }
            },
        };
        if issuer_info.subject != issuer_raw {
            return Err(DcapError::new(
                codes.invalid,
                format!(
                    "{what}: '{}' names another issuer than '{}'",
                    info.name, issuer_info.name
                ),
            ));
        }
        if !issuer_info.key.verify_der(signed, signature) {
            return Err(DcapError::new(
                codes.invalid,
                format!("{what}: the signature of '{}' does not verify", info.name),
            ));
        }
        out.push(info.clone());
        if issuer_is_anchor && parsed.get(i + 1).is_none() {
            out.push(issuer_info.clone());
            return Ok(out);
        }
    }
    Err(DcapError::new(
        codes.invalid,
        format!("{what}: does not end at a trusted root"),
    ))
}

fn is_ca(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

fn check_signature_algorithm(cert: &X509Certificate<'_>, what: &str, code: ErrorCode) -> Result<()> {
    if cert.signature_algorithm.algorithm.as_bytes() != ECDSA_WITH_SHA256 {
        return Err(DcapError::new(
            code,
            format!(
                "{what}: signature algorithm {} (ecdsa-with-SHA256 expected)",
                cert.signature_algorithm.algorithm
            ),
        ));
    }
    Ok(())
}

/// A CRL whose signature was checked.
#[derive(Clone, Debug)]
pub(crate) struct Crl {
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds (a CRL without one is refused).
    pub next_update: i64,
    /// Revoked serials, without leading zero bytes.
    pub revoked: HashSet<Vec<u8>>,
}

impl Crl {
    /// Whether `serial` (normalized) is listed.
    pub fn lists(&self, serial: &[u8]) -> bool {
        self.revoked.contains(serial)
    }
}

/// Parses `der` and checks it is issued and signed by `issuer`.
pub(crate) fn verify_crl(der: &[u8], issuer: &CertInfo, what: &str) -> Result<Crl> {
    let (rest, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| DcapError::new(ErrorCode::CrlMalformed, format!("{what}: not a CRL ({e})")))?;
    if !rest.is_empty() {
        return Err(DcapError::new(
            ErrorCode::CrlMalformed,
            format!("{what}: bytes after the CRL"),
        ));
    }
    if crl.signature_algorithm.algorithm.as_bytes() != ECDSA_WITH_SHA256 {
        return Err(DcapError::new(
            ErrorCode::CrlMalformed,
            format!(
                "{what}: signature algorithm {} (ecdsa-with-SHA256 expected)",
                crl.signature_algorithm.algorithm
            ),
        ));
    }
    if crl.issuer().as_raw() != issuer.subject.as_slice() {
        return Err(DcapError::new(
            ErrorCode::CrlSignatureInvalid,
            format!("{what}: issued by '{}', not by '{}'", crl.issuer(), issuer.name),
        ));
    }
    if !issuer
        .key
        .verify_der(crl.tbs_cert_list.as_ref(), &crl.signature_value.data)
    {
        return Err(DcapError::new(
            ErrorCode::CrlSignatureInvalid,
            format!("{what}: the signature does not verify under '{}'", issuer.name),
        ));
    }
    let next_update = crl
        .next_update()
        .ok_or_else(|| DcapError::new(ErrorCode::CrlMalformed, format!("{what}: no nextUpdate")))?;
    Ok(Crl {
        this_update: crl.last_update().timestamp(),
        next_update: next_update.timestamp(),
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| normalize_serial(r.raw_serial()))
            .collect(),
    })
}

/// DER certificates of a PEM chain, with `code` on failure.
pub(crate) fn pem_chain(text: &[u8], what: &str, code: ErrorCode) -> Result<Vec<Vec<u8>>> {
    crate::pem::certificates(text).map_err(|e| DcapError::new(code, format!("{what}: {}", e.describe())))
}
