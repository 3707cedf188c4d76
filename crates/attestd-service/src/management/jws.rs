//! Management requests as JWS (reference D): policies (`StoredAttestationPolicy`), policy resets
//! and policy management certificate changes, unsigned (`alg: none`) or signed by a certificate
//! carried in the header (`x5c`, or `jwk.x5c` as the Azure SDK writes it).

use std::time::SystemTime;

use attestd_token::{Algorithm, Jwk, Jws, PublicKey, b64};
use aws_lc_rs::digest;
use serde_json::{Map, Value};

use crate::error::ServiceError;

/// Who signed a management JWS.
#[derive(Clone, Debug)]
pub struct Signer {
    /// The signing certificate, DER (absent when the header carried a bare `jwk`).
    pub certificate: Option<Vec<u8>>,
    /// MAA's thumbprint of the certificate: upper-case hex SHA-1 of the DER.
    pub thumbprint: Option<String>,
    /// The signer as MAA reports it in `x-ms-policy-signer`.
    pub jwk: Value,
}

/// A parsed management JWS whose signature (if any) verified.
#[derive(Debug)]
pub struct ManagementJws {
    /// The exact JWS text received.
    pub raw: String,
    /// `x-ms-policy-token-hash`: BASE64URL(SHA-256(JWS text as received)).
    pub token_hash: String,
    /// The payload bytes (may be empty, as for resets).
    pub payload: Vec<u8>,
    /// The signer, `None` for `alg: none`.
    pub signer: Option<Signer>,
}

fn malformed(message: impl Into<String>) -> ServiceError {
    ServiceError::InvalidParameter {
        code: "InvalidJws",
        message: message.into(),
    }
}

/// Upper-case hex SHA-1 of `der`, MAA's certificate thumbprint.
pub fn thumbprint(der: &[u8]) -> String {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// A certificate as MAA lists policy signers and management certificates:
/// `{"alg", "kty", "use": "sig", "x5c": [DER]}`.
pub fn certificate_jwk(der: &[u8]) -> Value {
    let (alg, kty) = match PublicKey::from_certificate_der(der).map(|k| k.kind()) {
        Ok(attestd_token::KeyKind::P256) => ("ES256", "EC"),
        Ok(attestd_token::KeyKind::P384) => ("ES384", "EC"),
        _ => ("RS256", "RSA"),
    };
    serde_json::json!({"alg": alg, "kty": kty, "use": "sig", "x5c": [b64::encode_std(der)]})
}

/// BASE64URL(SHA-256(text)).
pub fn token_hash(text: &str) -> String {
    b64::encode_url(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

fn header_certificate(jws: &Jws<'_>) -> Result<Option<Vec<u8>>, ServiceError> {
    let chain = jws.header.x5c.clone().or_else(|| {
        jws.header
            .jwk
            .as_ref()
            .and_then(|j| j.get("x5c"))
            .and_then(|c| serde_json::from_value::<Vec<String>>(c.clone()).ok())
    });
    match chain.as_ref().and_then(|c| c.first()) {
        None => Ok(None),
        Some(leaf) => b64::decode_std(leaf)
            .map(Some)
            .ok_or_else(|| malformed("the header's x5c certificate is not base64")),
    }
}

/// Checks the certificate's validity window at `now`, with distinct codes.
fn check_validity(der: &[u8], now: SystemTime) -> Result<(), ServiceError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| malformed(format!("the signing certificate does not parse: {e}")))?;
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if now < cert.validity().not_before.timestamp() {
        return Err(ServiceError::InvalidParameter {
            code: "SignerCertificateNotYetValid",
            message: format!(
                "the signing certificate is not valid before {}",
                cert.validity().not_before
            ),
        });
    }
    if now > cert.validity().not_after.timestamp() {
        return Err(ServiceError::InvalidParameter {
            code: "SignerCertificateExpired",
            message: format!("the signing certificate expired at {}", cert.validity().not_after),
        });
    }
    Ok(())
}

impl ManagementJws {
    /// Parses `text` and verifies its signature against the key its header carries. Who may sign
    /// is decided by the caller (trust model, registered certificates).
    pub fn parse(text: &str, now: SystemTime) -> Result<ManagementJws, ServiceError> {
        let raw = text.trim().to_owned();
        if !raw.contains('.') {
            return Err(malformed("Malformed JWT: could not find the first period in the token"));
        }
        let jws = Jws::parse(&raw).map_err(|e| malformed(e.to_string()))?;
        let signer = if jws.header.alg.eq_ignore_ascii_case("none") {
            if !jws.signature.is_empty() {
                return Err(malformed("an unsecured JWS (alg none) must have an empty signature"));
            }
            None
        } else {
            // The Python SDK writes "RSA256" for RS256 (MAA accepts it).
            let alg: Algorithm = match jws.header.alg.as_str() {
                "RSA256" => Algorithm::RS256,
                other => other.parse().map_err(|_| ServiceError::InvalidParameter {
                    code: "UnsupportedAlgorithm",
                    message: format!("JWS algorithm '{other}' is not supported; use RS256"),
                })?,
            };
            let certificate = header_certificate(&jws)?;
            let key = match (&certificate, &jws.header.jwk) {
                (Some(der), _) => PublicKey::from_certificate_der(der),
                (None, Some(jwk)) => serde_json::from_value::<Jwk>(jwk.clone())
                    .map_err(|e| attestd_token::TokenError::InvalidKey(e.to_string()))
                    .and_then(|j| j.public_key()),
                (None, None) => {
                    return Err(malformed("a signed JWS must carry its signer in 'x5c' or 'jwk'"));
                }
            }
            .map_err(|e| malformed(format!("the signer's key: {e}")))?;
            match key.verify(alg, jws.signing_input.as_bytes(), &jws.signature) {
                Some(Ok(())) => {}
                Some(Err(_)) => {
                    return Err(ServiceError::InvalidParameter {
                        code: "JwsSignatureInvalid",
                        message: "the JWS signature does not verify with the key in its header".into(),
                    });
                }
                None => {
                    return Err(ServiceError::InvalidParameter {
                        code: "UnsupportedAlgorithm",
                        message: format!("the signer's key cannot make {alg} signatures"),
                    });
                }
            }
            if let Some(der) = &certificate {
                check_validity(der, now)?;
            }
            let jwk = match &certificate {
                Some(der) => certificate_jwk(der),
                None => jws.header.jwk.clone().unwrap_or(Value::Null),
            };
            Some(Signer {
                thumbprint: certificate.as_deref().map(thumbprint),
                certificate,
                jwk,
            })
        };
        Ok(ManagementJws {
            token_hash: token_hash(&raw),
            payload: jws.payload,
            raw,
            signer,
        })
    }

    /// The payload as a JSON object (`{}` for an empty payload).
    pub fn payload_object(&self) -> Result<Map<String, Value>, ServiceError> {
        if self.payload.is_empty() {
            return Ok(Map::new());
        }
        serde_json::from_slice(&self.payload)
            .map_err(|e| malformed(format!("the JWS payload is not a JSON object: {e}")))
    }

    /// The policy text of a `StoredAttestationPolicy` payload: `AttestationPolicy` is base64url of
    /// the UTF-8 text (GA); raw text is accepted as the 2018 preview sent it.
    pub fn policy_text(&self) -> Result<String, ServiceError> {
        let obj = self.payload_object()?;
        let encoded = obj
            .get("AttestationPolicy")
            .or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("AttestationPolicy"))
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::InvalidParameter {
                code: "InvalidParameter",
                message: "the JWS payload has no string member 'AttestationPolicy'".into(),
            })?;
        match attestd_evidence::b64::decode_lenient(encoded).ok() {
            Some(bytes) => String::from_utf8(bytes).map_err(|_| ServiceError::InvalidParameter {
                code: "InvalidParameter",
                message: "'AttestationPolicy' does not decode to UTF-8 text".into(),
            }),
            None => Ok(encoded.to_owned()),
        }
    }

    /// The certificate of a policy management certificate request (`policyCertificate`, or the
    /// older names `maa-policyCertificate`, `aas-policyCertificate`, `x-ms-policyCertificate`).
    pub fn policy_certificate(&self) -> Result<Vec<u8>, ServiceError> {
        let obj = self.payload_object()?;
        let jwk = [
            "policyCertificate",
            "maa-policyCertificate",
            "aas-policyCertificate",
            "x-ms-policyCertificate",
        ]
        .iter()
        .find_map(|name| obj.get(*name))
        .ok_or_else(|| ServiceError::InvalidParameter {
            code: "InvalidOperation",
            message: "Could not find \"policyCertificate\" (or \"maa-policyCertificate\") claim in policy token".into(),
        })?;
        let leaf = jwk
            .get("x5c")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::invalid("the policy certificate JWK has no 'x5c' certificate"))?;
        let der = b64::decode_std(leaf).ok_or_else(|| ServiceError::invalid("the policy certificate is not base64"))?;
        PublicKey::from_certificate_der(&der)
            .map_err(|e| ServiceError::invalid(format!("the policy certificate is unusable: {e}")))?;
        Ok(der)
    }
}
