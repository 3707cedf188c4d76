//! JWS compact serialization (RFC 7515 §7.1): parsing and encoding.

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::TokenError;

/// The JOSE header members attestd reads and writes. Unknown members are kept in `other`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The algorithm name as written (`RS256`, `none`, and for parsing anything else a client sends).
    pub alg: String,
    /// JWK Set URL of the issuer's signing keys.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jku: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// Media type; `JWT` for tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub typ: Option<String>,
    /// Certificate chain, leaf first, standard base64 DER.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x5c: Option<Vec<String>>,
    /// SHA-1 thumbprint of the signing certificate (DER), base64url; what MAA sends instead of
    /// `x5c` when a policy sets `omit_x5c`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x5t: Option<String>,
    /// An embedded public key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jwk: Option<serde_json::Value>,
    /// Any other member.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A parsed compact JWS. Nothing in it has been verified.
#[derive(Clone, Debug)]
pub struct Jws<'a> {
    /// The decoded header.
    pub header: Header,
    /// The exact signing input: `BASE64URL(header) '.' BASE64URL(payload)` as received.
    pub signing_input: &'a str,
    /// The decoded payload bytes (may be empty).
    pub payload: Vec<u8>,
    /// The decoded signature bytes (empty for `alg: none`).
    pub signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Parses a compact JWS: exactly three base64url parts, a JSON object header with `alg`.
    pub fn parse(token: &'a str) -> Result<Jws<'a>, TokenError> {
        let token = token.trim();
        let mut parts = token.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::malformed(
                "a compact JWS has exactly three '.'-separated parts",
            ));
        };
        let header_bytes =
            b64::decode_url_strict(h).ok_or_else(|| TokenError::malformed("the header is not base64url"))?;
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|e| TokenError::malformed(format!("the header is not a JOSE header object: {e}")))?;
        let payload = b64::decode_url_strict(p).ok_or_else(|| TokenError::malformed("the payload is not base64url"))?;
        let signature =
            b64::decode_url_strict(s).ok_or_else(|| TokenError::malformed("the signature is not base64url"))?;
        Ok(Jws {
            header,
            signing_input: &token[..h.len() + 1 + p.len()],
            payload,
            signature,
        })
    }

    /// The payload parsed as a JSON object (the claims of a JWT).
    pub fn claims(&self) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| TokenError::malformed(format!("the payload is not a JSON object: {e}")))
    }
}

/// Encodes an unsecured JWS (`alg: none`, empty signature) with the given header and payload.
pub fn encode_unsecured(header: &Header, payload: &[u8]) -> Result<String, TokenError> {
    let header_json = serde_json::to_vec(header).map_err(|e| TokenError::malformed(e.to_string()))?;
    let mut out = String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 8);
    b64::encode_url_into(&header_json, &mut out);
    out.push('.');
    b64::encode_url_into(payload, &mut out);
    out.push('.');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maa_unsecured_policy_jws() -> Result<(), TokenError> {
        // An unsigned policy JWS as the Azure SDK sends it.
        let jws = Jws::parse(
            "eyJhbGciOiJub25lIn0.eyJBdHRlc3RhdGlvblBvbGljeSI6ICJkbVZ5YzJsdmJqMHhMakE3SUdGMWRHaHZjbWw2WVhScGIyNXlkV3hsYzNzOVBpQndaWEp0YVhRb0tUdDlPeUJwYzNOMVlXNWpaWEoxYkdWemUzMDcifQ.",
        )?;
        assert_eq!(jws.header.alg, "none");
        assert!(jws.signature.is_empty());
        assert!(jws.claims()?.contains_key("AttestationPolicy"));
        Ok(())
    }

    #[test]
    fn rejects_wrong_shapes() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.e30.", "e30.!!!.", "bnVsbA.e30.", "e30.e30."] {
            let r = Jws::parse(bad);
            assert!(matches!(r, Err(TokenError::Malformed(_))), "{bad}: {r:?}");
        }
    }

    #[test]
    fn empty_payload_is_allowed() -> Result<(), TokenError> {
        let jws = Jws::parse("eyJhbGciOiJub25lIn0..")?;
        assert!(jws.payload.is_empty());
        Ok(())
    }

    #[test]
    fn unsecured_round_trip() -> Result<(), TokenError> {
        let header = Header {
            alg: "none".into(),
            ..Default::default()
        };
        let s = encode_unsecured(&header, br#"{"a":1}"#)?;
        assert_eq!(s, "eyJhbGciOiJub25lIn0.eyJhIjoxfQ.");
        assert_eq!(Jws::parse(&s)?.payload, br#"{"a":1}"#);
        Ok(())
    }
}
