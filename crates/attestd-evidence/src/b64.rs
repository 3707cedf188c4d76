//! Base64 as attesters send it, decoded with the CPU's vector instructions (AVX2, NEON) where it
//! has them.
//!
//! An SEV-SNP request nests three layers of base64 (the `report` field, MAA's document's
//! `SnpReport` and `VcekCertChain`, the PEM body), about 11 KB per attestation; the scalar decoder
//! spent 6 µs of the request's 80 µs of non-cryptographic work on them. The engines are base64's
//! own (`base64::engine::Simd`), with the same validation as its scalar engine: canonical trailing
//! bits, no stray characters, at most the canonical padding.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::Simd;
use base64::engine::general_purpose::{PAD, PAD_INDIFFERENT};

pub use base64::DecodeError;

static URL_LENIENT: LazyLock<Simd> = LazyLock::new(|| Simd::url_safe(PAD_INDIFFERENT));
static STD_LENIENT: LazyLock<Simd> = LazyLock::new(|| Simd::standard(PAD_INDIFFERENT));
static STD_PADDED: LazyLock<Simd> = LazyLock::new(|| Simd::standard(PAD));

/// Decodes client-supplied base64 leniently: either alphabet, padding optional.
///
/// MAA's API says base64url, but its own examples and Azure's guest attestation library send the
/// standard alphabet, so evidence fields accept both. base64url is tried first (what the SDKs
/// send). Text mixing both alphabets' characters fails both; the error is the standard
/// alphabet's.
pub fn decode_lenient(text: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    let text = text.as_ref();
    URL_LENIENT.decode(text).or_else(|_| STD_LENIENT.decode(text))
}

/// Decodes standard base64 with its padding, as in a PEM body (RFC 7468).
pub fn decode_std_padded(text: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    STD_PADDED.decode(text.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn lenient_accepts_both_alphabets_and_padding() {
        let bytes = [0xfbu8, 0xff, 0xfe, 0x01];
        for s in ["-__-AQ", "-__-AQ==", "-__-AQ=", "+//+AQ", "+//+AQ==", "+//+AQ="] {
            assert_eq!(decode_lenient(s).as_deref(), Ok(&bytes[..]), "{s}");
        }
        for bad in ["a b", "-__+AQ", "AQ===", "AR", "A", "AQ\n", "AQ=A"] {
            assert!(decode_lenient(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn padded_standard_requires_its_padding() {
        assert_eq!(decode_std_padded("AQ==").as_deref(), Ok(&[1u8][..]));
        for bad in ["AQ", "AQ=", "-_8=", "AR=="] {
            assert!(decode_std_padded(bad).is_err(), "{bad:?}");
        }
    }

    /// The vector path (inputs of 64 bytes and more) must agree with the scalar engine on every
    /// length and on a bad character at every position.
    #[test]
    fn long_inputs_agree_with_the_scalar_engine() {
        let data: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 1, 2, 3, 47, 48, 49, 95, 96, 97, 500, 1184, 2999, 3000] {
            let url = URL_SAFE_NO_PAD.encode(&data[..len]);
            let std = STANDARD.encode(&data[..len]);
            assert_eq!(decode_lenient(&url).as_deref(), Ok(&data[..len]), "url {len}");
            assert_eq!(decode_lenient(&std).as_deref(), Ok(&data[..len]), "std {len}");
            assert_eq!(decode_std_padded(&std).as_deref(), Ok(&data[..len]), "padded {len}");
        }
        let text = URL_SAFE_NO_PAD.encode(&data[..1184]).into_bytes();
        for at in 0..text.len() {
            for bad in [b'\0', b' ', b'\n', b'=', b'*', 0x80, 0xff] {
                let mut t = text.clone();
                t[at] = bad;
                let decoded = decode_lenient(&t);
                if bad == b'=' && at + 2 >= text.len() {
                    // Padding may end the text; it must not decode to the original bytes.
                    assert_ne!(decoded.as_deref(), Ok(&data[..1184]), "'=' at {at}");
                } else {
                    assert!(decoded.is_err(), "byte {bad:#x} at {at}");
                }
            }
        }
    }
}
