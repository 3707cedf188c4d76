//! Open Enclave framing around an SGX quote (all integers little-endian).
//!
//! `/attest/OpenEnclave` receives one of:
//!
//! * an OE **remote report** (`oe_get_report`): a 16-byte header `{version u32 = 1, report_type
//!   u32 = 2 (remote), report_size u64}` followed by exactly `report_size` bytes of SGX quote;
//! * OE **evidence** of format `OE_FORMAT_UUID_SGX_ECDSA` (`oe_get_evidence`): the SGX quote
//!   followed by OE's custom-claims buffer, whose SHA-256 is REPORTDATA[0..32] — either bare, or
//!   behind an attestation header `{version u32 = 3, format_id [16], data_size u64}`.
//!
//! The custom-claims buffer is `{version u64 = 1, count u64}` then, per claim, `{name_size u64,
//! value_size u64, name, value}` (the name NUL-terminated).

use crate::error::{ErrorCode, Result, fail};

/// `OE_FORMAT_UUID_SGX_ECDSA`, a3a21e87-1b4d-4014-b70a-a125d2fbcd8c.
pub const OE_FORMAT_UUID_SGX_ECDSA: [u8; 16] = [
    0xa3, 0xa2, 0x1e, 0x87, 0x1b, 0x4d, 0x40, 0x14, 0xb7, 0x0a, 0xa1, 0x25, 0xd2, 0xfb, 0xcd, 0x8c,
];

/// The OE report header version.
const OE_REPORT_VERSION: u32 = 1;
/// OE report type of a remote (quote-based) report.
const OE_REPORT_TYPE_REMOTE: u32 = 2;
/// The OE attestation header version of current OE SDKs.
const OE_ATTESTATION_HEADER_VERSION: u32 = 3;
/// The OE custom-claims buffer version.
const OE_CUSTOM_CLAIMS_VERSION: u64 = 1;

/// How the evidence was framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OeFormat {
    /// An OE remote report: header + quote.
    Report,
    /// OE evidence behind an attestation header: quote + custom claims.
    HeaderedEvidence,
    /// OE evidence without header (as `oe_get_evidence` returns it without the format ID): a
    /// quote, optionally followed by custom claims.
    Evidence,
}

/// The SGX quote inside OE framing; for evidence, the quote is followed by the custom claims,
/// which only the quote's own length fields can separate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OeEnvelope<'a> {
    /// The framing.
    pub format: OeFormat,
    /// The quote (and, for evidence, the custom-claims buffer after it).
    pub payload: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Removes the OE framing of `/attest/OpenEnclave` evidence.
pub fn parse_open_enclave(bytes: &[u8]) -> Result<OeEnvelope<'_>> {
    let Some(first) = u32_at(bytes, 0) else {
        return fail(
            ErrorCode::OeReportTooShort,
            format!(
                "the OE report is {} bytes, shorter than its 16-byte header",
                bytes.len()
            ),
        );
    };
    match first {
        OE_REPORT_VERSION => {
            let (Some(kind), Some(size)) = (u32_at(bytes, 4), u64_at(bytes, 8)) else {
                return fail(
                    ErrorCode::OeReportTooShort,
                    format!(
                        "the OE report is {} bytes, shorter than its 16-byte header",
                        bytes.len()
                    ),
                );
            };
            if kind != OE_REPORT_TYPE_REMOTE {
                return fail(
                    ErrorCode::UnsupportedOeReportType,
                    format!("OE report header field report_type is {kind} (2, remote report, expected)"),
                );
            }
            let body = &bytes[16..];
            if size != body.len() as u64 {
                return fail(
                    ErrorCode::OeReportSizeMismatch,
                    format!(
                        "OE report header field report_size is {size} but {} bytes follow the header",
                        body.len()
                    ),
                );
            }
            Ok(OeEnvelope {
                format: OeFormat::Report,
                payload: body,
            })
        }
        // Small numbers are header versions (a quote starts with u16 version, u16 key type 2,
        // i.e. a u32 of at least 0x20000).
        2..=0xffff => {
            if first != OE_ATTESTATION_HEADER_VERSION {
                return fail(
                    ErrorCode::UnsupportedOeEvidenceVersion,
                    format!("OE attestation header field version is {first} (3 expected)"),
                );
            }
            let (Some(format_id), Some(size)) = (bytes.get(4..20), u64_at(bytes, 20)) else {
                return fail(
                    ErrorCode::OeEvidenceTooShort,
                    format!(
                        "the OE evidence is {} bytes, shorter than its 28-byte header",
                        bytes.len()
                    ),
                );
            };
            if format_id != OE_FORMAT_UUID_SGX_ECDSA {
                return fail(
                    ErrorCode::UnsupportedOeEvidenceFormat,
                    format!(
                        "OE attestation header field format_id is {} (OE_FORMAT_UUID_SGX_ECDSA expected)",
                        hex::encode(format_id)
                    ),
                );
            }
            let body = &bytes[28..];
            if size != body.len() as u64 {
                return fail(
                    ErrorCode::OeEvidenceSizeMismatch,
                    format!(
                        "OE attestation header field data_size is {size} but {} bytes follow the header",
                        body.len()
                    ),
                );
            }
            Ok(OeEnvelope {
                format: OeFormat::HeaderedEvidence,
                payload: body,
            })
        }
        _ => Ok(OeEnvelope {
            format: OeFormat::Evidence,
            payload: bytes,
        }),
    }
}

/// One OE custom claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomClaim {
    /// The name, without its terminating NUL.
    pub name: String,
    /// The value bytes.
    pub value: Vec<u8>,
}

/// Parses OE's custom-claims buffer; every length is checked and the buffer must be consumed
/// exactly.
pub fn parse_custom_claims(buf: &[u8]) -> Result<Vec<CustomClaim>> {
    let bad = |what: String| fail(ErrorCode::OeCustomClaimsMalformed, what);
    let (Some(version), Some(count)) = (u64_at(buf, 0), u64_at(buf, 8)) else {
        return bad(format!(
            "the OE custom-claims buffer is {} bytes, shorter than its 16-byte header",
            buf.len()
        ));
    };
    if version != OE_CUSTOM_CLAIMS_VERSION {
        return bad(format!("OE custom-claims field version is {version} (1 expected)"));
    }
    // Each claim takes at least 16 bytes: a count beyond that cannot be honest.
    if count > (buf.len() as u64) / 16 {
        return bad(format!(
            "OE custom-claims field num_claims is {count}, more than {} bytes can hold",
            buf.len()
        ));
    }
    let mut at = 16usize;
    let mut claims = Vec::with_capacity(count as usize);
    for i in 0..count {
        let (Some(name_size), Some(value_size)) = (u64_at(buf, at), u64_at(buf, at + 8)) else {
            return bad(format!("OE custom claim {i}: the buffer ends inside its sizes"));
        };
        at += 16;
        let name_end = usize::try_from(name_size).ok().and_then(|n| at.checked_add(n));
        let Some(name) = name_end.and_then(|end| buf.get(at..end)) else {
            return bad(format!(
                "OE custom claim {i}: name_size {name_size} runs past the buffer"
            ));
        };
        at += name.len();
        let value_end = usize::try_from(value_size).ok().and_then(|n| at.checked_add(n));
        let Some(value) = value_end.and_then(|end| buf.get(at..end)) else {
            return bad(format!(
                "OE custom claim {i}: value_size {value_size} runs past the buffer"
            ));
        };
        at += value.len();
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        let Ok(name) = std::str::from_utf8(name) else {
            return bad(format!("OE custom claim {i}: the name is not UTF-8"));
        };
        claims.push(CustomClaim {
            name: name.to_owned(),
            value: value.to_vec(),
        });
    }
    if at != buf.len() {
        return bad(format!(
            "OE custom-claims buffer: {} bytes follow the last claim",
            buf.len() - at
        ));
    }
    Ok(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims_buffer(claims: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&(claims.len() as u64).to_le_bytes());
        for (name, value) in claims {
            b.extend_from_slice(&(name.len() as u64 + 1).to_le_bytes());
            b.extend_from_slice(&(value.len() as u64).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(0);
            b.extend_from_slice(value);
        }
        b
    }

    fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
        r.unwrap_err().code
    }

    #[test]
    fn report_header_is_checked() {
        let quote = [3u8, 0, 2, 0, 9, 9];
        let mut r = Vec::new();
        r.extend_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&2u32.to_le_bytes());
        r.extend_from_slice(&(quote.len() as u64).to_le_bytes());
        r.extend_from_slice(&quote);
        let env = parse_open_enclave(&r).unwrap();
        assert_eq!((env.format, env.payload), (OeFormat::Report, &quote[..]));

        assert_eq!(code(parse_open_enclave(&r[..2])), ErrorCode::OeReportTooShort);
        assert_eq!(code(parse_open_enclave(&r[..12])), ErrorCode::OeReportTooShort);
        let mut local = r.clone();
        local[4] = 1;
        assert_eq!(code(parse_open_enclave(&local)), ErrorCode::UnsupportedOeReportType);
        let mut longer = r.clone();
        longer.push(0);
        assert_eq!(code(parse_open_enclave(&longer)), ErrorCode::OeReportSizeMismatch);
        assert_eq!(
            code(parse_open_enclave(&r[..r.len() - 1])),
            ErrorCode::OeReportSizeMismatch
        );
    }

    #[test]
    fn attestation_header_is_checked() {
        let payload = [3u8, 0, 2, 0, 1, 2, 3];
        let mut e = Vec::new();
        e.extend_from_slice(&3u32.to_le_bytes());
        e.extend_from_slice(&OE_FORMAT_UUID_SGX_ECDSA);
        e.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        e.extend_from_slice(&payload);
        let env = parse_open_enclave(&e).unwrap();
        assert_eq!((env.format, env.payload), (OeFormat::HeaderedEvidence, &payload[..]));

        let mut v2 = e.clone();
        v2[0] = 2;
        assert_eq!(code(parse_open_enclave(&v2)), ErrorCode::UnsupportedOeEvidenceVersion);
        assert_eq!(code(parse_open_enclave(&e[..20])), ErrorCode::OeEvidenceTooShort);
        let mut other = e.clone();
        other[4] ^= 1;
        assert_eq!(code(parse_open_enclave(&other)), ErrorCode::UnsupportedOeEvidenceFormat);
        let mut longer = e.clone();
        longer.push(0);
        assert_eq!(code(parse_open_enclave(&longer)), ErrorCode::OeEvidenceSizeMismatch);
    }

    #[test]
    fn a_bare_quote_is_evidence() {
        let q = [3u8, 0, 2, 0, 0, 0, 0, 0];
        let env = parse_open_enclave(&q).unwrap();
        assert_eq!((env.format, env.payload), (OeFormat::Evidence, &q[..]));
    }

    #[test]
    fn custom_claims_round_trip_and_lengths_are_checked() {
        let b = claims_buffer(&[("some_name", b"some_value\0"), ("k", b"")]);
        let c = parse_custom_claims(&b).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name, "some_name");
        assert_eq!(c[0].value, b"some_value\0");
        assert_eq!(c[1].name, "k");

        assert_eq!(code(parse_custom_claims(&b[..10])), ErrorCode::OeCustomClaimsMalformed);
        assert_eq!(
            code(parse_custom_claims(&b[..b.len() - 1])),
            ErrorCode::OeCustomClaimsMalformed
        );
        let mut extra = b.clone();
        extra.push(0);
        assert_eq!(code(parse_custom_claims(&extra)), ErrorCode::OeCustomClaimsMalformed);
        let mut v2 = b.clone();
        v2[0] = 2;
        assert_eq!(code(parse_custom_claims(&v2)), ErrorCode::OeCustomClaimsMalformed);
        let mut many = b.clone();
        many[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(code(parse_custom_claims(&many)), ErrorCode::OeCustomClaimsMalformed);
        let mut huge_name = b.clone();
        huge_name[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            code(parse_custom_claims(&huge_name)),
            ErrorCode::OeCustomClaimsMalformed
        );
        assert!(parse_custom_claims(&claims_buffer(&[])).unwrap().is_empty());
    }

    #[test]
    fn ravl_oe_evidence_claims_parse() {
        // The buffer at the end of microsoft/ravl's oe.*.att evidence (CATALOG section 8).
        let b = claims_buffer(&[("some_name", b"some_value\0")]);
        assert_eq!(
            hex::encode(&b),
            "010000000000000001000000000000000a000000000000000b00000000000000736f6d655f6e616d6500736f6d655f76616c756500"
        );
    }
}
