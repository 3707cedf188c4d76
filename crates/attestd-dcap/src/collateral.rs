//! DCAP collateral: the TCB info, QE identity, CRLs and issuer chains a quote is verified against.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{DcapError, ErrorCode, Result};
use crate::pem;
use crate::quote::TeeType;
use crate::tcb_info::{QeIdentity, TcbInfo};

/// One set of DCAP collateral, parsed once. Cheap to clone; the raw texts are kept exactly as
/// received because the signatures and [`Collateral::digest`] cover those bytes.
#[derive(Clone, Debug)]
pub struct Collateral {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tcb_info_text: String,
    tcb_info_signature: [u8; 64],
    qe_identity_text: String,
    qe_identity_signature: [u8; 64],
    tcb_info_issuer_chain_pem: String,
    qe_identity_issuer_chain_pem: String,
    pck_crl_issuer_chain_pem: String,
    pck_crl_der: Vec<u8>,
    root_ca_crl_der: Vec<u8>,
    tcb_info: TcbInfo,
    qe_identity: QeIdentity,
    issue_date: SystemTime,
    next_update: SystemTime,
    digest: [u8; 32],
}

/// dcap-qvl's `QuoteCollateralV3` (unknown fields, e.g. `pck_certificate_chain`, are ignored).
#[derive(Deserialize)]
struct CollateralJson {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
}

/// A PCS response body: `{"tcbInfo" | "enclaveIdentity" | "qeIdentity": {...}, "signature": "<hex>"}`.
/// The signature covers the exact text of the inner object, which `RawValue` keeps.
#[derive(Deserialize)]
struct PcsBody<'a> {
    #[serde(borrow, alias = "tcbInfo", alias = "enclaveIdentity", alias = "qeIdentity")]
    inner: &'a RawValue,
    signature: String,
}

/// Raw collateral parts as Intel's PCS serves them, for [`Collateral::from_parts`].
#[derive(Clone, Copy, Debug)]
pub struct CollateralParts<'a> {
    /// The TCB info response body `{"tcbInfo":{...},"signature":"<hex r‖s>"}`.
    pub tcb_info: &'a [u8],
    /// The TCB info issuer chain: PEM, or DER certificates one after another (signer first).
    pub tcb_info_issuer_chain: &'a [u8],
    /// The enclave identity response body `{"enclaveIdentity":{...},"signature":"<hex r‖s>"}`.
    pub qe_identity: &'a [u8],
    /// The enclave identity issuer chain: PEM or concatenated DER (signer first).
    pub qe_identity_issuer_chain: &'a [u8],
    /// The PCK CRL: DER, PEM or hex of DER.
    pub pck_crl: &'a [u8],
    /// The PCK CRL issuer chain: PEM or concatenated DER (PCK CA first).
    pub pck_crl_issuer_chain: &'a [u8],
    /// The Intel SGX Root CA CRL: DER, PEM or hex of DER.
    pub root_ca_crl: &'a [u8],
}

fn malformed(message: impl Into<String>) -> DcapError {
    DcapError::new(ErrorCode::CollateralMalformed, message)
}

fn signature_hex(text: &str, field: &str) -> Result<[u8; 64]> {
    let bytes = hex::decode(text.trim()).map_err(|_| malformed(format!("{field} is not hex")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| malformed(format!("{field} has {} bytes, 64 (r‖s) expected", b.len())))
}

/// A CRL given as DER, PEM (`X509 CRL`) or hex of DER.
fn crl_der(bytes: &[u8], field: &str) -> Result<Vec<u8>> {
    // DER is binary: its last bytes may be NUL or whitespace, so it is cut by its own length,
    // never trimmed.
    if bytes.first() == Some(&0x30) {
        return der_prefix(bytes)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| malformed(format!("{field}: the DER CRL is truncated or followed by data")));
    }
    let trimmed = trim_ascii_nul(bytes);
    let text = std::str::from_utf8(trimmed).map_err(|_| malformed(format!("{field} is neither DER, PEM nor hex")))?;
    if let Some(body) = text.strip_prefix("-----BEGIN X509 CRL-----") {
        let (body, _) = body
            .split_once("-----END X509 CRL-----")
            .ok_or_else(|| malformed(format!("{field}: PEM CRL is not terminated")))?;
        let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        return base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| malformed(format!("{field}: PEM CRL is not base64")));
    }
    hex::decode(text).map_err(|_| malformed(format!("{field} is neither DER, PEM nor hex")))
}

/// `bytes` without surrounding whitespace and trailing NULs (QvE strings are NUL-terminated).
fn trim_ascii_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| *b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end)
        .min(end);
    bytes.get(start..end).unwrap_or_default()
}

/// A chain given as PEM or as DER certificates one after another, as PEM text.
fn chain_pem(bytes: &[u8], field: &str) -> Result<String> {
    if bytes.first() != Some(&0x30) {
        let trimmed = trim_ascii_nul(bytes);
        let text = std::str::from_utf8(trimmed).map_err(|_| malformed(format!("{field} is not PEM text")))?;
        pem::certificates(text.as_bytes()).map_err(|e| malformed(format!("{field}: {}", e.describe())))?;
        return Ok(text.to_owned());
    }
    // DER certificates one after another, each cut by its own length (binary: never trimmed).
    let mut rest = bytes;
    let mut out = String::new();
    while !is_padding(rest) {
        let len = der_len(rest).ok_or_else(|| malformed(format!("{field}: a DER certificate is truncated")))?;
        let (cert, after) = rest.split_at(len);
        out.push_str(&pem::encode_certificate(cert));
        rest = after;
    }
    Ok(out)
}

/// Whether `bytes` is only NULs and whitespace (QvE strings are NUL-terminated, files may end in a
/// newline).
fn is_padding(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0 || b.is_ascii_whitespace())
}

/// The DER TLV at the start of `bytes`, when only padding follows it.
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    let len = der_len(bytes)?;
    let (tlv, rest) = bytes.split_at_checked(len)?;
    is_padding(rest).then_some(tlv)
}

/// The total length of the DER TLV at the start of `bytes`, if it fits.
fn der_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = bytes
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (2 + n, len)
    };
    let total = header.checked_add(len)?;
    (total <= bytes.len()).then_some(total)
}

fn pcs_body(bytes: &[u8], field: &str) -> Result<(String, [u8; 64])> {
    let body: PcsBody<'_> =
        serde_json::from_slice(trim_ascii_nul(bytes)).map_err(|e| malformed(format!("{field}: {e}")))?;
    Ok((
        body.inner.get().to_owned(),
        signature_hex(&body.signature, &format!("{field}.signature"))?,
    ))
}

fn system_time(secs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH,
    }
}

/// notAfter of every certificate of a PEM chain (unverified: for dates only).
fn chain_not_after(pem_text: &str) -> Vec<i64> {
    pem::certificates(pem_text.as_bytes())
        .unwrap_or_default()
        .iter()
        .filter_map(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, c)| c.validity().not_after.timestamp())
        .collect()
}

/// thisUpdate and nextUpdate of a CRL (unverified: for dates only).
fn crl_bounds(der: &[u8], field: &str) -> Result<(i64, Option<i64>)> {
    let (_, crl) = x509_parser::parse_x509_crl(der)
        .map_err(|e| DcapError::new(ErrorCode::CrlMalformed, format!("{field}: not a CRL ({e})")))?;
    Ok((crl.last_update().timestamp(), crl.next_update().map(|t| t.timestamp())))
}

impl Collateral {
    /// Parses dcap-qvl's `QuoteCollateralV3` JSON (Intel QvE field names): `pck_crl_issuer_chain`,
    /// `root_ca_crl`, `pck_crl`, `tcb_info_issuer_chain`, `tcb_info`, `tcb_info_signature` (hex
    /// r‖s), `qe_identity_issuer_chain`, `qe_identity`, `qe_identity_signature`. CRLs are hex DER
    /// or PEM; chains are PEM. Nothing is verified here: [`crate::QuoteVerifier`] does that.
    pub fn from_json(bytes: &[u8]) -> Result<Collateral> {
        let j: CollateralJson =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("collateral JSON: {e}")))?;
        Collateral::build(Parsed {
            tcb_info_signature: signature_hex(&j.tcb_info_signature, "tcb_info_signature")?,
            qe_identity_signature: signature_hex(&j.qe_identity_signature, "qe_identity_signature")?,
            tcb_info_issuer_chain_pem: chain_pem(j.tcb_info_issuer_chain.as_bytes(), "tcb_info_issuer_chain")?,
            qe_identity_issuer_chain_pem: chain_pem(j.qe_identity_issuer_chain.as_bytes(), "qe_identity_issuer_chain")?,
            pck_crl_issuer_chain_pem: chain_pem(j.pck_crl_issuer_chain.as_bytes(), "pck_crl_issuer_chain")?,
            pck_crl_der: crl_der(j.pck_crl.as_bytes(), "pck_crl")?,
            root_ca_crl_der: crl_der(j.root_ca_crl.as_bytes(), "root_ca_crl")?,
            tcb_info_text: j.tcb_info,
            qe_identity_text: j.qe_identity,
        })
    }

    /// Builds collateral from raw PCS responses and files (see [`CollateralParts`]).
    pub fn from_parts(parts: CollateralParts<'_>) -> Result<Collateral> {
        let (tcb_info_text, tcb_info_signature) = pcs_body(parts.tcb_info, "tcb_info")?;
        let (qe_identity_text, qe_identity_signature) = pcs_body(parts.qe_identity, "qe_identity")?;
        Collateral::build(Parsed {
            tcb_info_text,
            tcb_info_signature,
            qe_identity_text,
            qe_identity_signature,
            tcb_info_issuer_chain_pem: chain_pem(parts.tcb_info_issuer_chain, "tcb_info_issuer_chain")?,
            qe_identity_issuer_chain_pem: chain_pem(parts.qe_identity_issuer_chain, "qe_identity_issuer_chain")?,
            pck_crl_issuer_chain_pem: chain_pem(parts.pck_crl_issuer_chain, "pck_crl_issuer_chain")?,
            pck_crl_der: crl_der(parts.pck_crl, "pck_crl")?,
            root_ca_crl_der: crl_der(parts.root_ca_crl, "root_ca_crl")?,
        })
    }

    /// Parses an `sgx_ql_qve_collateral_t` serialised big-endian (as microsoft/ravl stores it):
    /// u16 major, u16 minor, u32 tee type, then 7 × (u64 length, bytes): PCK CRL issuer chain,
    /// root CA CRL, PCK CRL, TCB info issuer chain, TCB info (PCS body), QE identity issuer chain,
    /// QE identity (PCS body).
    pub fn from_qve_be_bytes(bytes: &[u8]) -> Result<Collateral> {
        let mut rest = bytes
            .get(8..)
            .ok_or_else(|| malformed("QvE collateral: header is truncated"))?;
        let mut fields: Vec<&[u8]> = Vec::with_capacity(7);
        for i in 0..7 {
            let (len, after) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| malformed(format!("QvE collateral: field {i} length is truncated")))?;
            let len =
                usize::try_from(u64::from_be_bytes(*len)).map_err(|_| malformed("QvE collateral: length too large"))?;
            if after.len() < len {
                return Err(malformed(format!("QvE collateral: field {i} is truncated")));
            }
            let (field, after) = after.split_at(len);
            fields.push(field);
            rest = after;
        }
        let [
            pck_crl_issuer_chain,
            root_ca_crl,
            pck_crl,
            tcb_info_issuer_chain,
            tcb_info,
            qe_identity_issuer_chain,
            qe_identity,
        ] = fields[..]
        else {
            return Err(malformed("QvE collateral: 7 fields expected"));
        };
        Collateral::from_parts(CollateralParts {
            tcb_info,
            tcb_info_issuer_chain,
            qe_identity,
            qe_identity_issuer_chain,
            pck_crl,
            pck_crl_issuer_chain,
            root_ca_crl,
        })
    }

    fn build(p: Parsed) -> Result<Collateral> {
        let tcb_info = TcbInfo::parse(&p.tcb_info_text)?;
        let qe_identity = QeIdentity::parse(&p.qe_identity_text)?;
        let pck_crl = crl_bounds(&p.pck_crl_der, "pck_crl")?;
        let root_crl = crl_bounds(&p.root_ca_crl_der, "root_ca_crl")?;
        let issue = [tcb_info.issue_date, qe_identity.issue_date, pck_crl.0, root_crl.0];
        let mut next = vec![tcb_info.next_update, qe_identity.next_update];
        next.extend(pck_crl.1);
        next.extend(root_crl.1);
        for chain in [
            &p.tcb_info_issuer_chain_pem,
            &p.qe_identity_issuer_chain_pem,
            &p.pck_crl_issuer_chain_pem,
        ] {
            next.extend(chain_not_after(chain));
        }
        let mut h = digest::Context::new(&digest::SHA256);
        for part in [
            p.tcb_info_text.as_bytes(),
            &p.tcb_info_signature,
            p.tcb_info_issuer_chain_pem.as_bytes(),
            p.qe_identity_text.as_bytes(),
            &p.qe_identity_signature,
            p.qe_identity_issuer_chain_pem.as_bytes(),
            &p.pck_crl_der,
            p.pck_crl_issuer_chain_pem.as_bytes(),
            &p.root_ca_crl_der,
        ] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(h.finish().as_ref());
        Ok(Collateral {
            inner: Arc::new(Inner {
                issue_date: system_time(issue.into_iter().min().unwrap_or(0)),
                next_update: system_time(next.into_iter().min().unwrap_or(0)),
                tcb_info_text: p.tcb_info_text,
                tcb_info_signature: p.tcb_info_signature,
                qe_identity_text: p.qe_identity_text,
                qe_identity_signature: p.qe_identity_signature,
                tcb_info_issuer_chain_pem: p.tcb_info_issuer_chain_pem,
                qe_identity_issuer_chain_pem: p.qe_identity_issuer_chain_pem,
                pck_crl_issuer_chain_pem: p.pck_crl_issuer_chain_pem,
                pck_crl_der: p.pck_crl_der,
                root_ca_crl_der: p.root_ca_crl_der,
                tcb_info,
                qe_identity,
                digest,
            }),
        })
    }

    /// The parsed TCB info (not yet verified: trust it only after [`crate::QuoteVerifier::verify`]).
    pub fn tcb_info(&self) -> &TcbInfo {
        &self.inner.tcb_info
    }

    /// The parsed QE identity (not yet verified).
    pub fn qe_identity(&self) -> &QeIdentity {
        &self.inner.qe_identity
    }

    /// The TCB info signature, r‖s.
    pub fn tcb_info_signature(&self) -> &[u8; 64] {
        &self.inner.tcb_info_signature
    }

    /// The QE identity signature, r‖s.
    pub fn qe_identity_signature(&self) -> &[u8; 64] {
        &self.inner.qe_identity_signature
    }

    /// The exact signed TCB info JSON text (the inner object).
    pub fn tcb_info_text(&self) -> &str {
        &self.inner.tcb_info_text
    }

    /// The exact signed QE identity JSON text (the inner object).
    pub fn qe_identity_text(&self) -> &str {
        &self.inner.qe_identity_text
    }

    /// The PEM chain (signer first) of the TCB info signing certificate.
    pub fn tcb_info_issuer_chain_pem(&self) -> &str {
        &self.inner.tcb_info_issuer_chain_pem
    }

    /// The PEM chain (signer first) of the QE identity signing certificate.
    pub fn qe_identity_issuer_chain_pem(&self) -> &str {
        &self.inner.qe_identity_issuer_chain_pem
    }

    /// The PCK CRL (issued by the Processor or Platform CA), DER.
    pub fn pck_crl_der(&self) -> &[u8] {
        &self.inner.pck_crl_der
    }

    /// The Intel SGX Root CA CRL, DER.
    pub fn root_ca_crl_der(&self) -> &[u8] {
        &self.inner.root_ca_crl_der
    }

    /// The PEM chain (PCK CA first) of the PCK CRL's issuer.
    pub fn pck_crl_issuer_chain_pem(&self) -> &str {
        &self.inner.pck_crl_issuer_chain_pem
    }

    /// The FMSPC the TCB info is for.
    pub fn fmspc(&self) -> [u8; 6] {
        self.inner.tcb_info.fmspc
    }

    /// SGX or TDX, from the TCB info's `id`.
    pub fn tee(&self) -> TeeType {
        self.inner.tcb_info.tee
    }

    /// The TCB info's `tcbEvaluationDataNumber`.
    pub fn tcb_evaluation_data_number(&self) -> u32 {
        self.inner.tcb_info.tcb_evaluation_data_number
    }

    /// The earliest `issueDate` / `thisUpdate` of all parts (the age of the oldest part).
    pub fn issue_date(&self) -> SystemTime {
        self.inner.issue_date
    }

    /// The earliest `nextUpdate` / `notAfter` of all parts (documents, CRLs, issuer
    /// certificates): after it the collateral is unusable.
    pub fn next_update(&self) -> SystemTime {
        self.inner.next_update
    }

    /// SHA-256 over all parts (each length-prefixed), the cache key.
    pub fn digest(&self) -> [u8; 32] {
        self.inner.digest
    }
}

/// The parts after decoding, before parsing.
struct Parsed {
    tcb_info_text: String,
    tcb_info_signature: [u8; 64],
    qe_identity_text: String,
    qe_identity_signature: [u8; 64],
    tcb_info_issuer_chain_pem: String,
    qe_identity_issuer_chain_pem: String,
    pck_crl_issuer_chain_pem: String,
    pck_crl_der: Vec<u8>,
    root_ca_crl_der: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER SEQUENCE whose content ends in `last` (a CRL's last byte is its signature's, so it
    /// can be NUL or a whitespace byte).
    fn der_ending_in(last: u8) -> Vec<u8> {
        vec![0x30, 0x05, 0x04, 0x03, 0xAA, 0xBB, last]
    }

    #[test]
    fn binary_der_is_cut_by_its_length_never_trimmed() {
        for last in [0x00, b' ', b'\n', b'\r', b'\t', 0x0C, 0x42] {
            let der = der_ending_in(last);
            assert_eq!(crl_der(&der, "crl").ok(), Some(der.clone()), "last byte {last:#04x}");
            // QvE pads with NUL; files end in a newline: padding after the TLV is dropped.
            let mut padded = der.clone();
            padded.extend([0, 0, b'\n']);
            assert_eq!(crl_der(&padded, "crl").ok(), Some(der.clone()));
            // Two DER "certificates" back to back, each ending in that byte.
            let mut two = der.clone();
            two.extend(&der);
            two.push(0);
            let pem = chain_pem(&two, "chain").expect("chain");
            assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
        }
        // Truncated, or followed by something that is not padding.
        assert!(crl_der(&der_ending_in(1)[..6], "crl").is_err());
        let mut trailing = der_ending_in(1);
        trailing.push(0x30);
        assert!(crl_der(&trailing, "crl").is_err());
    }

    #[test]
    fn text_crls_still_parse() {
        let der = der_ending_in(0x00);
        let hex = format!("  {}\n\0", hex::encode(&der));
        assert_eq!(crl_der(hex.as_bytes(), "crl").ok(), Some(der.clone()));
        let pem = format!(
            "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        assert_eq!(crl_der(pem.as_bytes(), "crl").ok(), Some(der));
    }
}
