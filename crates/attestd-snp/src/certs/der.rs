//! The few DER shapes AMD's certificate extensions use, read strictly.

/// The content of a definite short- or long-form DER TLV with `tag` that spans all of `bytes`.
fn whole_tlv(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let (&t, rest) = bytes.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: 1 or 2 length bytes are plenty for these extensions; minimal encoding only.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 || (n == 2 && len < 0x100) {
            return None;
        }
        (len, rest)
    };
    (rest.len() == len).then_some(rest)
}

/// A DER INTEGER that fits a `u8` (AMD's security patch levels and struct version).
pub(crate) fn small_uint(bytes: &[u8]) -> Option<u8> {
    let content = whole_tlv(bytes, 0x02)?;
    match content {
        [v] if *v < 0x80 => Some(*v),
        // A leading zero is only allowed (and required) before a byte with the high bit set.
        [0, v] if *v >= 0x80 => Some(*v),
        _ => None,
    }
}

/// A DER IA5String (AMD's product name and CSP id).
pub(crate) fn ia5_string(bytes: &[u8]) -> Option<&str> {
    let content = whole_tlv(bytes, 0x16)?;
    if !content.is_ascii() {
        return None;
    }
    std::str::from_utf8(content).ok()
}

/// A DER OCTET STRING's content.
pub(crate) fn octet_string(bytes: &[u8]) -> Option<&[u8]> {
    whole_tlv(bytes, 0x04)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(small_uint(&[0x02, 0x01, 0x03]), Some(3));
        assert_eq!(small_uint(&[0x02, 0x02, 0x00, 0xd9]), Some(217));
        assert_eq!(small_uint(&[0x02, 0x01, 0x80]), None, "negative");
        assert_eq!(small_uint(&[0x02, 0x02, 0x00, 0x10]), None, "not minimal");
        assert_eq!(small_uint(&[0x02, 0x02, 0x01, 0x10]), None, "too large");
        assert_eq!(small_uint(&[0x02, 0x01]), None, "truncated");
        assert_eq!(small_uint(&[0x02, 0x01, 0x03, 0x00]), None, "trailing");
        assert_eq!(small_uint(&[0x04, 0x01, 0x03]), None, "tag");
        assert_eq!(small_uint(&[]), None);
    }

    #[test]
    fn strings() {
        assert_eq!(ia5_string(b"\x16\x08Milan-B0"), Some("Milan-B0"));
        assert_eq!(ia5_string(b"\x16\x09Milan-B0"), None);
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(octet_string(&long).map(<[u8]>::len), Some(0x80));
        assert_eq!(
            octet_string(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]),
            None,
            "non-minimal length"
        );
        assert_eq!(octet_string(&[0x04, 0x02, 1, 2]), Some(&[1u8, 2][..]));
    }
}
