//! Base64 as JOSE and MAA use it.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::Simd;
use base64::engine::general_purpose::{NO_PAD, STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD};

/// base64url without padding, with the CPU's vector instructions where it has them: a token's
/// claims (2–3 KB) are encoded once per attestation.
static URL_ENCODER: LazyLock<Simd> = LazyLock::new(|| Simd::url_safe(NO_PAD));

/// Encodes `bytes` as unpadded base64url (RFC 4648 §5), the form MAA emits everywhere.
pub fn encode_url(bytes: &[u8]) -> String {
    URL_ENCODER.encode(bytes)
}

/// Appends unpadded base64url of `bytes` to `out`.
pub fn encode_url_into(bytes: &[u8], out: &mut String) {
    URL_ENCODER.encode_string(bytes, out);
}

/// Encodes `bytes` as padded standard base64 (x5c entries and MAA's instance `kid`).
pub fn encode_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes base64url strictly as JWS compact serialization requires: URL alphabet, no padding.
pub fn decode_url_strict(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Decodes standard base64 (padding optional), as used in `x5c`.
pub fn decode_std(s: &str) -> Option<Vec<u8>> {
    STANDARD_PAD_INDIFFERENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rejects_padding_and_standard_alphabet() {
        assert!(decode_url_strict("AQ==").is_none());
        assert!(decode_url_strict("+/").is_none());
        assert_eq!(decode_url_strict("AQ").as_deref(), Some(&[1u8][..]));
    }

    #[test]
    fn the_vector_encoder_agrees_with_the_scalar_one() {
        let data: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for len in [0, 1, 2, 3, 95, 96, 97, 127, 128, 129, 1000, 2345, 4000] {
            let mut appended = String::from("x.");
            encode_url_into(&data[..len], &mut appended);
            assert_eq!(encode_url(&data[..len]), URL_SAFE_NO_PAD.encode(&data[..len]), "{len}");
            assert_eq!(appended[2..], URL_SAFE_NO_PAD.encode(&data[..len]), "{len}");
        }
    }
}
