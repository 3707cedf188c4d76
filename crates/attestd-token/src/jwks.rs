//! JSON Web Keys (RFC 7517) as MAA publishes them, and the public keys they carry.

use aws_lc_rs::signature::ParsedPublicKey;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::alg::{Algorithm, KeyKind};
use crate::b64;
use crate::error::TokenError;

/// One key of a JWK Set. MAA's `/certs` emits exactly `x5c`, `kid` and `kty`; other members are kept
/// when reading keys from elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Certificate chain, leaf first, standard base64 DER.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub x5c: Vec<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Any other member (`n`, `e`, `crv`, `x`, `y`, `alg`, `use`, ...).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A JWK Set: `{"keys": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// A public key usable for verification, with its parsed form cached per algorithm.
pub struct PublicKey {
    kind: KeyKind,
    spki_der: Vec<u8>,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

impl PublicKey {
    /// A key from a DER SubjectPublicKeyInfo (RSA, EC P-256 or EC P-384).
    pub fn from_spki_der(spki_der: &[u8]) -> Result<PublicKey, TokenError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| TokenError::InvalidKey(format!("SubjectPublicKeyInfo: {e}")))?;
        if !rest.is_empty() {
            return Err(TokenError::InvalidKey(
                "trailing bytes after SubjectPublicKeyInfo".into(),
            ));
        }
        Self::from_parsed_spki(&spki, spki_der)
    }

    /// The key of an X.509 certificate (DER).
    pub fn from_certificate_der(cert_der: &[u8]) -> Result<PublicKey, TokenError> {
        let (_, cert) =
            X509Certificate::from_der(cert_der).map_err(|e| TokenError::InvalidKey(format!("certificate: {e}")))?;
        let spki = cert.public_key();
        Self::from_parsed_spki(spki, spki.raw)
    }

    fn from_parsed_spki(spki: &SubjectPublicKeyInfo<'_>, raw: &[u8]) -> Result<PublicKey, TokenError> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let kind = match oid.as_str() {
            OID_RSA => KeyKind::Rsa,
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some(OID_P256) => KeyKind::P256,
                    Some(OID_P384) => KeyKind::P384,
                    other => {
                        return Err(TokenError::InvalidKey(format!(
                            "unsupported EC curve {}",
                            other.unwrap_or("(none)")
                        )));
                    }
                }
            }
            other => return Err(TokenError::InvalidKey(format!("unsupported key algorithm {other}"))),
        };
        Self::new(kind, raw.to_vec())
    }

    fn new(kind: KeyKind, spki_der: Vec<u8>) -> Result<PublicKey, TokenError> {
        let parsed = Algorithm::ALL
            .into_iter()
            .filter(|a| a.key_kind() == kind)
            .map(|a| {
                ParsedPublicKey::new(a.verification(), &spki_der)
                    .map(|p| (a, p))
                    .map_err(|e| TokenError::InvalidKey(format!("{} key rejected: {e}", a.kty())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicKey { kind, spki_der, parsed })
    }

    /// The key family.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Verifies a JWS signature made with `alg`; `None` if the key cannot do `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Option<Result<(), TokenError>> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, key)| {
            key.verify_sig(message, signature)
                .map_err(|_| TokenError::InvalidSignature)
        })
    }
}

impl Jwk {
    /// The JWK for a certificate chain, in MAA's `/certs` shape (`x5c`, `kid`, `kty` only).
    pub fn for_certificates(kid: &str, kty: &str, chain_der: &[Vec<u8>]) -> Jwk {
        Jwk {
            x5c: chain_der.iter().map(|c| b64::encode_std(c)).collect(),
            kid: Some(kid.to_owned()),
            kty: kty.to_owned(),
            other: serde_json::Map::new(),
        }
    }

    /// The DER of the first (leaf) certificate in `x5c`.
    pub fn leaf_certificate_der(&self) -> Result<Option<Vec<u8>>, TokenError> {
        match self.x5c.first() {
            None => Ok(None),
            Some(c) => b64::decode_std(c)
                .map(Some)
                .ok_or_else(|| TokenError::InvalidKey("x5c entry is not base64".into())),
        }
    }

    /// The public key: from the `x5c` leaf when present, else from `n`/`e` (RSA) or `crv`/`x`/`y` (EC).
    pub fn public_key(&self) -> Result<PublicKey, TokenError> {
        if let Some(der) = self.leaf_certificate_der()? {
            return PublicKey::from_certificate_der(&der);
        }
        let member = |name: &'static str| -> Result<Vec<u8>, TokenError> {
            self.other
                .get(name)
                .and_then(|v| v.as_str())
                .and_then(b64::decode_url_strict)
                .ok_or_else(|| TokenError::InvalidKey(format!("JWK member '{name}' is missing or not base64url")))
        };
        match self.kty.as_str() {
            "RSA" => {
                let (n, e) = (member("n")?, member("e")?);
                let spki = rsa_spki_der(&n, &e);
                PublicKey::new(KeyKind::Rsa, spki)
            }
            "EC" => {
                let crv = self.other.get("crv").and_then(|v| v.as_str()).unwrap_or_default();
                let (kind, len) = match crv {
                    "P-256" => (KeyKind::P256, 32),
                    "P-384" => (KeyKind::P384, 48),
                    other => return Err(TokenError::InvalidKey(format!("unsupported curve '{other}'"))),
                };
                let (x, y) = (member("x")?, member("y")?);
                if x.len() != len || y.len() != len {
                    return Err(TokenError::InvalidKey(format!("{crv} coordinates must be {len} bytes")));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::new(kind, ec_spki_der(kind, &point))
            }
            other => Err(TokenError::InvalidKey(format!("unsupported kty '{other}'"))),
        }
    }
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_len(content.len(), out);
    out.extend_from_slice(content);
}

fn der_uint(bytes: &[u8], out: &mut Vec<u8>) {
    let trimmed = &bytes[bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len().saturating_sub(1))..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    der_tlv(0x02, &content, out);
}

fn spki_der(algorithm_identifier: &[u8], key_bits: &[u8]) -> Vec<u8> {
    let mut bit_string = Vec::with_capacity(key_bits.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(key_bits);
    let mut body = algorithm_identifier.to_vec();
    der_tlv(0x03, &bit_string, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(0x30, &body, &mut out);
    out
}

/// SubjectPublicKeyInfo for an RSA key given its modulus and exponent.
fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut ints = Vec::with_capacity(n.len() + e.len() + 8);
    der_uint(n, &mut ints);
    der_uint(e, &mut ints);
    let mut rsa_public_key = Vec::with_capacity(ints.len() + 4);
    der_tlv(0x30, &ints, &mut rsa_public_key);
    // SEQUENCE { OID rsaEncryption, NULL }
    const ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    spki_der(&ALG, &rsa_public_key)
}

/// SubjectPublicKeyInfo for an EC key given its uncompressed point.
fn ec_spki_der(kind: KeyKind, point: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID id-ecPublicKey, OID curve }
    const P256: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x03, 0x01, 0x07,
    ];
    const P384: [u8; 18] = [
        0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
    ];
    let alg: &[u8] = if kind == KeyKind::P384 { &P384 } else { &P256 };
    spki_der(alg, point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn jwk_from_components_matches_generated_keys() -> Result<(), TokenError> {
        for alg in [Algorithm::ES256, Algorithm::ES384] {
            let (key, _) = SigningKey::generate(alg)?;
            let public = PublicKey::from_spki_der(key.spki_der())?;
            // Rebuild the SPKI from the raw point the way a JWK carries it.
            let point = &key.spki_der()[key.spki_der().len() - if alg == Algorithm::ES256 { 65 } else { 97 }..];
            assert_eq!(ec_spki_der(public.kind(), point), key.spki_der(), "{alg}");
        }
        Ok(())
    }

    #[test]
    fn rsa_components_round_trip() -> Result<(), TokenError> {
        let (key, _) = SigningKey::generate(Algorithm::RS256)?;
        let (_, spki) =
            SubjectPublicKeyInfo::from_der(key.spki_der()).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let rsa = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa,
            _ => return Err(TokenError::InvalidKey("not RSA".into())),
        };
        let jwk = Jwk {
            x5c: vec![],
            kid: None,
            kty: "RSA".into(),
            other: serde_json::json!({"n": b64::encode_url(rsa.modulus), "e": b64::encode_url(rsa.exponent)})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let public = jwk.public_key()?;
        let sig = key.sign(b"m")?;
        assert_eq!(public.verify(Algorithm::RS256, b"m", &sig), Some(Ok(())));
        assert_eq!(public.verify(Algorithm::ES256, b"m", &sig), None);
        Ok(())
    }
}
