//! Base64 as JOSE and MAA use it.

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD};

/// Encodes `bytes` as unpadded base64url (RFC 4648 §5), the form MAA emits everywhere.
pub fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends unpadded base64url of `bytes` to `out`.
pub fn encode_url_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Encodes `bytes` as padded standard base64 (x5c entries and MAA's instance `kid`).
pub fn encode_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64url strictly as JWS compact serialization requires: URL alphabet, no padding.
pub fn decode_url_strict(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Decodes client-supplied base64 leniently: either alphabet, padding optional.
///
/// MAA's own examples send `runtimeData` in standard base64 although the API says base64url, so
/// request fields accept both.
pub fn decode_lenient(s: &str) -> Option<Vec<u8>> {
    // base64url first (what the SDKs send): one pass in the common case. A string with both
    // alphabets' characters fails both.
    URL_LENIENT.decode(s).or_else(|_| STD_LENIENT.decode(s)).ok()
}

/// Decodes standard base64 (padding optional), as used in `x5c`.
pub fn decode_std(s: &str) -> Option<Vec<u8>> {
    STD_LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_accepts_both_alphabets_and_padding() {
        let bytes = [0xfbu8, 0xff, 0xfe, 0x01];
        for s in ["-__-AQ", "-__-AQ==", "+//+AQ", "+//+AQ=="] {
            assert_eq!(decode_lenient(s).as_deref(), Some(&bytes[..]), "{s}");
        }
        assert_eq!(decode_lenient("a b"), None);
    }

    #[test]
    fn strict_rejects_padding_and_standard_alphabet() {
        assert!(decode_url_strict("AQ==").is_none());
        assert!(decode_url_strict("+/").is_none());
        assert_eq!(decode_url_strict("AQ").as_deref(), Some(&[1u8][..]));
    }
}
