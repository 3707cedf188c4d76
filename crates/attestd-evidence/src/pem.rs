//! PEM certificate chains, as verifiers receive them: Intel's in the quote's certification data
//! (often followed by a NUL byte) and in the collateral's issuer chains, AMD's in the
//! `VcekCertChain` of SEV-SNP evidence. Only `CERTIFICATE` blocks and whitespace are accepted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Why a PEM chain could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PemError {
    /// There is no `BEGIN CERTIFICATE` block at all.
    Empty,
    /// Something other than whitespace (or trailing NULs) lies outside the blocks.
    StrayText,
    /// A block has no `END CERTIFICATE` line.
    Unterminated,
    /// A block's body is not base64.
    BadBase64,
}

impl PemError {
    /// What went wrong, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            PemError::Empty => "no PEM certificate",
            PemError::StrayText => "text outside the PEM certificate blocks",
            PemError::Unterminated => "a PEM certificate block is not terminated",
            PemError::BadBase64 => "a PEM certificate block is not base64",
        }
    }
}

/// The DER certificates of a PEM chain, in order.
pub fn certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, PemError> {
    // Intel's QE appends a NUL terminator to the chain.
    let end = text.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let mut rest = &text[..end];
    let mut certs = Vec::new();
    loop {
        let skipped = rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
        rest = &rest[skipped..];
        if rest.is_empty() {
            break;
        }
        let Some(body) = rest.strip_prefix(BEGIN) else {
            return Err(PemError::StrayText);
        };
        let stop = memchr::memmem::find(body, END).ok_or(PemError::Unterminated)?;
        let compact = without_whitespace(&body[..stop]);
        certs.push(crate::b64::decode_std_padded(compact).map_err(|_| PemError::BadBase64)?);
        rest = &body[stop + END.len()..];
    }
    if certs.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(certs)
}

/// PEM text of one DER certificate (64-character lines).
pub fn encode_certificate(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// `text` without ASCII whitespace. Line breaks and spaces are found with SIMD searches and the
/// runs between them copied whole; a block with tabs or form feeds takes the byte-wise path.
fn without_whitespace(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    if memchr::memchr2(b'\t', b'\x0c', text).is_some() {
        out.extend(text.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        return out;
    }
    let mut from = 0;
    for at in memchr::memchr3_iter(b'\n', b'\r', b' ', text) {
        out.extend_from_slice(&text[from..at]);
        from = at + 1;
    }
    out.extend_from_slice(&text[from..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_chains_with_nul_and_whitespace() {
        let a = encode_certificate(&[1, 2, 3]);
        let b = encode_certificate(&[4; 100]);
        let mut text = format!("\n{a}{b}\n").into_bytes();
        text.push(0);
        assert_eq!(certificates(&text).unwrap(), vec![vec![1, 2, 3], vec![4; 100]]);
    }

    #[test]
    fn every_kind_of_whitespace_inside_a_block_is_skipped() {
        let a = encode_certificate(&[7; 200]);
        let body = a
            .trim_start_matches("-----BEGIN CERTIFICATE-----")
            .trim_end()
            .trim_end_matches("-----END CERTIFICATE-----");
        let single_line: String = body.split_whitespace().collect();
        for spaced in [
            single_line.clone(),
            body.replace('\n', "\r\n"),
            body.replace('\n', " \t\n"),
            body.replace('\n', "\x0c\n  "),
        ] {
            let text = format!("-----BEGIN CERTIFICATE-----{spaced}-----END CERTIFICATE-----\n");
            assert_eq!(certificates(text.as_bytes()).unwrap(), vec![vec![7; 200]], "{spaced:?}");
        }
        // A vertical tab is not whitespace to PEM readers (nor to `is_ascii_whitespace`).
        let text = format!("-----BEGIN CERTIFICATE-----\x0b{single_line}-----END CERTIFICATE-----");
        assert_eq!(certificates(text.as_bytes()), Err(PemError::BadBase64));
    }

    #[test]
    fn rejects_junk() {
        assert_eq!(certificates(b""), Err(PemError::Empty));
        assert_eq!(certificates(b"\0\0"), Err(PemError::Empty));
        assert_eq!(certificates(b"hello"), Err(PemError::StrayText));
        let a = encode_certificate(&[1, 2, 3]);
        assert_eq!(certificates(format!("{a}x").as_bytes()), Err(PemError::StrayText));
        assert_eq!(
            certificates(b"-----BEGIN CERTIFICATE-----\nAQID\n"),
            Err(PemError::Unterminated)
        );
        assert_eq!(
            certificates(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----"),
            Err(PemError::BadBase64)
        );
    }
}
