//! The Intel SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1), read by hand from its
//! DER: PPID, TCB (16 components, PCESVN, CPUSVN), PCE-ID, FMSPC and SGX type.

use crate::error::{DcapError, ErrorCode, Result};

/// DER of OID 1.2.840.113741.1.13.1, without tag and length.
pub(crate) const SGX_EXTENSION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_SEQUENCE: u8 = 0x30;

/// What the PCK certificate says about the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PckExtension {
    /// The platform provisioning ID (encrypted PPID's plain value).
    pub ppid: [u8; 16],
    /// The 16 SGX TCB component SVNs.
    pub tcb_components: [u8; 16],
    /// The PCE security version.
    pub pce_svn: u16,
    /// The raw CPUSVN.
    pub cpu_svn: [u8; 16],
    /// The PCE identifier.
    pub pce_id: [u8; 2],
    /// The family-model-stepping-platform-custom SKU.
    pub fmspc: [u8; 6],
    /// SGX type (0 Standard, 1 Scalable, 2 Scalable with integrity).
    pub sgx_type: u8,
}

fn malformed(what: &str) -> DcapError {
    DcapError::new(ErrorCode::PckExtensionMalformed, format!("PCK SGX extension: {what}"))
}

/// One DER TLV: (tag, content, rest). Only definite lengths up to 4 bytes.
fn tlv<'a>(input: &'a [u8], what: &str) -> Result<(u8, &'a [u8], &'a [u8])> {
    let (&tag, rest) = input
        .split_first()
        .ok_or_else(|| malformed(&format!("{what} is missing")))?;
    let (&first, mut rest) = rest
        .split_first()
        .ok_or_else(|| malformed(&format!("{what} has no length")))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(malformed(&format!("{what} has a bad length")));
        }
        let (len_bytes, after) = rest.split_at(n);
        rest = after;
        len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return Err(malformed(&format!("{what} is truncated")));
    }
    let (content, rest) = rest.split_at(len);
    Ok((tag, content, rest))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8])> {
    let (t, content, rest) = tlv(input, what)?;
    if t != tag {
        return Err(malformed(&format!("{what} has tag {t:#04x}, {tag:#04x} expected")));
    }
    Ok((content, rest))
}

/// A non-negative DER INTEGER that fits `max`.
fn unsigned(content: &[u8], max: u64, what: &str) -> Result<u64> {
    if content.is_empty() || content.len() > 3 || content[0] & 0x80 != 0 {
        return Err(malformed(&format!("{what} is not a small non-negative integer")));
    }
    let v = content.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if v > max {
        return Err(malformed(&format!("{what} = {v} exceeds {max}")));
    }
    Ok(v)
}

fn fixed<const N: usize>(content: &[u8], what: &str) -> Result<[u8; N]> {
    content
        .try_into()
        .map_err(|_| malformed(&format!("{what} has {} bytes, {N} expected", content.len())))
}

/// The sub-identifier path of `oid` below the SGX extension OID (e.g. `[2, 17]` for PCESVN).
fn arc(oid: &[u8]) -> Option<&[u8]> {
    oid.strip_prefix(SGX_EXTENSION_OID)
}

/// Parses the extension value (the content of the extension's OCTET STRING).
pub fn parse_sgx_extension(value: &[u8]) -> Result<PckExtension> {
    let (mut items, rest) = expect(value, TAG_SEQUENCE, "extension")?;
    if !rest.is_empty() {
        return Err(malformed("bytes after the extension"));
    }
    let mut ppid = None;
    let mut tcb = None;
    let mut pce_id = None;
    let mut fmspc = None;
    let mut sgx_type = None;
    while !items.is_empty() {
        let (item, after) = expect(items, TAG_SEQUENCE, "extension item")?;
        items = after;
        let (oid, value) = expect(item, TAG_OID, "extension item OID")?;
        match arc(oid) {
            Some([1]) => ppid = Some(fixed::<16>(expect(value, TAG_OCTET_STRING, "PPID")?.0, "PPID")?),
            Some([2]) => tcb = Some(parse_tcb(expect(value, TAG_SEQUENCE, "TCB")?.0)?),
            Some([3]) => pce_id = Some(fixed::<2>(expect(value, TAG_OCTET_STRING, "PCE-ID")?.0, "PCE-ID")?),
            Some([4]) => fmspc = Some(fixed::<6>(expect(value, TAG_OCTET_STRING, "FMSPC")?.0, "FMSPC")?),
            Some([5]) => {
                let content = expect(value, TAG_ENUMERATED, "SGX type")?.0;
                sgx_type = Some(unsigned(content, 255, "SGX type")? as u8);
            }
            // PlatformInstanceID, Configuration and later additions are not needed here.
            _ => {}
        }
    }
    let missing = |what: &str| {
        DcapError::new(
            ErrorCode::PckExtensionMissing,
            format!("PCK SGX extension has no {what}"),
        )
    };
    let (tcb_components, pce_svn, cpu_svn) = tcb.ok_or_else(|| missing("TCB"))?;
    Ok(PckExtension {
        ppid: ppid.ok_or_else(|| missing("PPID"))?,
        tcb_components,
        pce_svn,
        cpu_svn,
        pce_id: pce_id.ok_or_else(|| missing("PCE-ID"))?,
        fmspc: fmspc.ok_or_else(|| missing("FMSPC"))?,
        sgx_type: sgx_type.ok_or_else(|| missing("SGX type"))?,
    })
}

/// TCB: SEQUENCE of {OID .2.N, INTEGER} for components 1..16 and PCESVN (17), {OID .2.18,
/// OCTET STRING} for CPUSVN.
fn parse_tcb(mut items: &[u8]) -> Result<([u8; 16], u16, [u8; 16])> {
    let mut comps: [Option<u8>; 16] = [None; 16];
    let mut pce_svn = None;
    let mut cpu_svn = None;
    while !items.is_empty() {
        let (item, after) = expect(items, TAG_SEQUENCE, "TCB item")?;
        items = after;
        let (oid, value) = expect(item, TAG_OID, "TCB item OID")?;
        match arc(oid) {
            Some([2, n @ 1..=16]) => {
                let what = format!("TCB component {n}");
                let v = unsigned(expect(value, TAG_INTEGER, &what)?.0, 255, &what)?;
                if let Some(slot) = comps.get_mut(usize::from(*n) - 1) {
                    *slot = Some(v as u8);
                }
            }
            Some([2, 17]) => {
                pce_svn = Some(unsigned(expect(value, TAG_INTEGER, "PCESVN")?.0, 0xffff, "PCESVN")? as u16)
            }
            Some([2, 18]) => cpu_svn = Some(fixed::<16>(expect(value, TAG_OCTET_STRING, "CPUSVN")?.0, "CPUSVN")?),
            _ => {}
        }
    }
    let mut out = [0u8; 16];
    for (i, (slot, c)) in out.iter_mut().zip(comps).enumerate() {
        *slot = c.ok_or_else(|| {
            DcapError::new(
                ErrorCode::PckExtensionMissing,
                format!("PCK SGX extension has no TCB component {}", i + 1),
            )
        })?;
    }
    let pce_svn =
        pce_svn.ok_or_else(|| DcapError::new(ErrorCode::PckExtensionMissing, "PCK SGX extension has no PCESVN"))?;
    let cpu_svn =
        cpu_svn.ok_or_else(|| DcapError::new(ErrorCode::PckExtensionMissing, "PCK SGX extension has no CPUSVN"))?;
    Ok((out, pce_svn, cpu_svn))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn item(sub: &[u8], value: Vec<u8>) -> Vec<u8> {
        let mut oid = SGX_EXTENSION_OID.to_vec();
        oid.extend_from_slice(sub);
        let mut c = der(TAG_OID, &oid);
        c.extend(value);
        der(TAG_SEQUENCE, &c)
    }

    fn extension(skip_comp: Option<u8>) -> Vec<u8> {
        let mut tcb = Vec::new();
        for n in 1..=16u8 {
            if Some(n) != skip_comp {
                tcb.extend(item(&[2, n], der(TAG_INTEGER, &[n])));
            }
        }
        tcb.extend(item(&[2, 17], der(TAG_INTEGER, &[0x00, 0xff])));
        tcb.extend(item(&[2, 18], der(TAG_OCTET_STRING, &[7; 16])));
        let mut all = item(&[1], der(TAG_OCTET_STRING, &[1; 16]));
        all.extend(item(&[2], der(TAG_SEQUENCE, &tcb)));
        all.extend(item(&[3], der(TAG_OCTET_STRING, &[0, 0])));
        all.extend(item(&[4], der(TAG_OCTET_STRING, &[0, 0x60, 0x6a, 0, 0, 0])));
        all.extend(item(&[5], der(TAG_ENUMERATED, &[1])));
        der(TAG_SEQUENCE, &all)
    }

    #[test]
    fn parses_a_hand_made_extension() {
        let e = parse_sgx_extension(&extension(None)).unwrap();
        assert_eq!(
            e.tcb_components,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        );
        assert_eq!(e.pce_svn, 255);
        assert_eq!(e.cpu_svn, [7; 16]);
        assert_eq!(e.fmspc, [0, 0x60, 0x6a, 0, 0, 0]);
        assert_eq!(e.sgx_type, 1);
    }

    #[test]
    fn missing_and_malformed_fields_have_codes() {
        let e = parse_sgx_extension(&extension(Some(9))).unwrap_err();
        assert_eq!(e.code, ErrorCode::PckExtensionMissing);
        assert!(e.message.contains("component 9"), "{}", e.message);
        let full = extension(None);
        for cut in [0, 1, 5, full.len() / 2, full.len() - 1] {
            let e = parse_sgx_extension(&full[..cut]).unwrap_err();
            assert_eq!(e.code, ErrorCode::PckExtensionMalformed, "cut {cut}");
        }
    }
}
