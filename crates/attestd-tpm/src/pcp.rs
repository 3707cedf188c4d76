//! Windows PCP platform attestation blobs (`NCryptCreateClaim(NCRYPT_CLAIM_PLATFORM)`), the
//! `current_claim` / `boot_claim` of MAA's v1 (`attReq`) requests.
//!
//! Layout (little-endian header, as the Platform Crypto Provider writes it):
//! `PCP_PLATFORM_ATTESTATION_BLOB` — `Magic` ("PADS"), `Platform`, `HeaderSize`, `cbPcrValues`,
//! `cbQuote`, `cbSignature`, `cbLog` (u32 each) — or `PCP_PLATFORM_ATTESTATION_BLOB2` ("PAD2"),
//! which adds `PcrAlgorithmId` (a TPM_ALG_ID). Then, from `HeaderSize`: the values of PCRs
//! 0–23 of that bank (SHA-1 for the first form) concatenated, the quote (a bare TPMS_ATTEST for
//! TPM 2.0, no TPM2B size), the signature (the bare RSA signature of the AIK, no TPMT_SIGNATURE),
//! and the TCG log.

use crate::eventlog::{Bank, HashAlg, PCR_COUNT};
use crate::quote::{Quote, QuoteError};

/// "PADS" read as a little-endian u32 (`PCP_PLATFORM_ATTESTATION_MAGIC`).
const MAGIC: u32 = u32::from_le_bytes(*b"PADS");
/// "PAD2" (`PCP_PLATFORM_ATTESTATION_MAGIC2`).
const MAGIC2: u32 = u32::from_le_bytes(*b"PAD2");
const V1_HEADER: usize = 28;
const V2_HEADER: usize = 32;

/// A parsed platform claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformClaim {
    /// The PCR bank of `pcrs`.
    pub bank: HashAlg,
    /// PCRs 0–23 of that bank.
    pub pcrs: Bank,
    /// `TPMS_ATTEST`.
    pub quote: Vec<u8>,
    /// The signature as a `TPMT_SIGNATURE` (RSASSA, with the hash of the quote's `pcrDigest`),
    /// so that it verifies like a v2 attestation's.
    pub signature: Vec<u8>,
    /// The TCG log (may be empty).
    pub log: Vec<u8>,
}

fn malformed(field: &str, message: impl std::fmt::Display) -> QuoteError {
    QuoteError::new("PcpClaimMalformed", format!("{field}: {message}"))
}

/// Parses a platform claim sent as `field`.
pub fn parse(field: &str, b: &[u8]) -> Result<PlatformClaim, QuoteError> {
    let u32_at = |at: usize, name: &str| -> Result<u32, QuoteError> {
        let s = b
            .get(at..at + 4)
            .ok_or_else(|| malformed(field, format!("truncated in the header ({name})")))?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let magic = u32_at(0, "Magic")?;
    let min_header = match magic {
        MAGIC => V1_HEADER,
        MAGIC2 => V2_HEADER,
        other => {
            return Err(malformed(
                field,
                format!("Magic is {other:#010x}, neither PCP_PLATFORM_ATTESTATION_MAGIC nor ..._MAGIC2"),
            ));
        }
    };
    // Platform: TPM_VERSION_12 / _20 as TBS (1, 2) or the PCP provider (0x10000, 0x20000) spells it.
    match u32_at(4, "Platform")? {
        2 | 0x0002_0000 => {}
        1 | 0x0001_0000 => {
            return Err(QuoteError::new(
                "UnsupportedTpmVersion",
                format!("{field}: a TPM 1.2 platform claim; only TPM 2.0 is supported"),
            ));
        }
        other => {
            return Err(QuoteError::new(
                "UnsupportedTpmVersion",
                format!("{field}: Platform {other:#x} is not a TPM version"),
            ));
        }
    }
    let header = u32_at(8, "HeaderSize")? as usize;
    let sizes = [
        u32_at(12, "cbPcrValues")? as usize,
        u32_at(16, "cbQuote")? as usize,
        u32_at(20, "cbSignature")? as usize,
        u32_at(24, "cbLog")? as usize,
    ];
    let bank = if magic == MAGIC2 {
        let id = u32_at(28, "PcrAlgorithmId")?;
        u16::try_from(id)
            .ok()
            .and_then(HashAlg::from_id)
            .ok_or_else(|| QuoteError::new("UnsupportedAlgorithm", format!("{field}: PcrAlgorithmId {id:#x}")))?
    } else {
        HashAlg::Sha1
    };
    if header < min_header || header > b.len() {
        return Err(malformed(field, format!("HeaderSize {header}")));
    }
    let total = sizes.iter().try_fold(header, |acc, &n| acc.checked_add(n));
    if total != Some(b.len()) {
        return Err(malformed(
            field,
            format!(
                "HeaderSize + cbPcrValues + cbQuote + cbSignature + cbLog is not the {} bytes received",
                b.len()
            ),
        ));
    }
    let [cb_pcrs, cb_quote, cb_sig, _] = sizes;
    if cb_pcrs != PCR_COUNT * bank.digest_len() {
        return Err(malformed(
            field,
            format!("cbPcrValues {cb_pcrs} is not 24 {} values", bank.name()),
        ));
    }
    if cb_quote == 0 || cb_sig == 0 {
        return Err(malformed(field, "the claim is not signed (no quote or signature)"));
    }
    let mut at = header;
    let mut next = |n: usize| {
        let s = &b[at..at + n];
        at += n;
        s
    };
    let pcr_bytes = next(cb_pcrs);
    let quote = next(cb_quote).to_vec();
    let sig = next(cb_sig).to_vec();
    let log = next(sizes[3]).to_vec();
    let values = pcr_bytes
        .chunks_exact(bank.digest_len())
        .enumerate()
        .map(|(i, v)| (i as u32, v.to_vec()))
        .collect();
    // The signing hash is not in the claim; TPM2_Quote's pcrDigest uses the signing scheme's.
    let parsed = Quote::parse(&quote).map_err(|e| QuoteError::new(e.code, format!("{field}: {}", e.message)))?;
    let hash = match parsed.pcr_digest.len() {
        20 => HashAlg::Sha1,
        32 => HashAlg::Sha256,
        48 => HashAlg::Sha384,
        64 => HashAlg::Sha512,
        n => return Err(malformed(field, format!("the quote's pcrDigest has {n} bytes"))),
    };
    let sig_len = u16::try_from(sig.len()).map_err(|_| malformed(field, "cbSignature exceeds a TPM2B"))?;
    let mut signature = Vec::with_capacity(6 + sig.len());
    signature.extend(0x0014u16.to_be_bytes()); // TPM_ALG_RSASSA
    signature.extend(hash_id(hash).to_be_bytes());
    signature.extend(sig_len.to_be_bytes());
    signature.extend(sig);
    Ok(PlatformClaim {
        bank,
        pcrs: (bank, values),
        quote,
        signature,
        log,
    })
}

fn hash_id(h: HashAlg) -> u16 {
    match h {
        HashAlg::Sha1 => 0x0004,
        HashAlg::Sha256 => 0x000B,
        HashAlg::Sha384 => 0x000C,
        HashAlg::Sha512 => 0x000D,
    }
}

/// Builds a platform claim (the `..._BLOB2` form); for tests and attesters.
pub fn encode(bank: HashAlg, pcrs: &[Vec<u8>], quote: &[u8], raw_signature: &[u8], log: &[u8]) -> Vec<u8> {
    let pcr_bytes: Vec<u8> = pcrs.concat();
    let mut out = Vec::new();
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    out.extend(MAGIC2.to_le_bytes());
    out.extend(2u32.to_le_bytes());
    out.extend(len(V2_HEADER));
    out.extend(len(pcr_bytes.len()));
    out.extend(len(quote.len()));
    out.extend(len(raw_signature.len()));
    out.extend(len(log.len()));
    out.extend(u32::from(hash_id(bank)).to_le_bytes());
    out.extend(pcr_bytes);
    out.extend(quote);
    out.extend(raw_signature);
    out.extend(log);
    out
}
