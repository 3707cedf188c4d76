//! The attReqV2 request of MAA's TPM protocol (message 3), built from a TPM quote.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;

use crate::{AttestationKey, Tpm, TpmError};

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().to_vec()
}

/// What goes into a request besides the quote.
#[derive(Clone, Debug, Default)]
pub struct RequestInputs<'a> {
    /// The AK certificate (DER).
    pub aik_cert: Option<&'a [u8]>,
    /// TCG event logs, in measurement order.
    pub logs: &'a [Vec<u8>],
    /// `rp_id`.
    pub rp_id: Option<&'a str>,
}

/// Quotes SHA-256 PCRs 0..=23 over the challenge bound to a fresh request key
/// (`tpm_quote`, SHA-256), reads the PCRs and returns the JSON message `{"request": JWS}`
/// signed PS256 by the request key.
pub fn attestation_request(
    tpm: &mut Tpm,
    ak: &AttestationKey,
    challenge: &str,
    service_context: &str,
    inputs: &RequestInputs<'_>,
) -> Result<serde_json::Value, TpmError> {
    let challenge_bytes = B64
        .decode(challenge.trim_end_matches('='))
        .map_err(|_| TpmError::Malformed("the challenge is not base64url"))?;
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| TpmError::Malformed("request key generation"))?;
    let p = key.public_key();
    let key_jwk = json!({"kty": "RSA", "n": B64.encode(p.modulus().big_endian_without_leading_zero()),
                         "e": B64.encode(p.exponent().big_endian_without_leading_zero())})
    .to_string();
    let qualifying = sha256(&[key_jwk.as_bytes(), &[0], &challenge_bytes]);
    let quote = tpm.quote(ak, &qualifying)?;
    let pcrs = tpm.pcr_read()?;
    let values: Vec<_> = pcrs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"index": i, "digest": B64.encode(v)}))
        .collect();
    let logs: Vec<_> = inputs
        .logs
        .iter()
        .map(|l| json!({"type": "TCG", "log": B64.encode(l)}))
        .collect();
    let mut current = json!({"logs": logs,
        "aik_pub": {"kty": "RSA", "n": B64.encode(&ak.modulus), "e": "AQAB"},
        "pcrs": [{"algorithm": 11, "values": values}],
        "quote": B64.encode(&quote.attest), "signature": B64.encode(&quote.signature)});
    if let Some(cert) = inputs.aik_cert {
        current["aik_cert"] = json!(B64.encode(cert));
    }
    let rp_id = inputs
        .rp_id
        .map(|r| format!(r#""rp_id":{},"#, json!(r)))
        .unwrap_or_default();
    // Built as text so that the request key's JSON is exactly the one hashed into the quote.
    let payload = format!(
        r#"{{"att_type":"basic","att_data":{{{rp_id}"challenge":{},"tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{key_jwk},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"service_context":{}}}}}"#,
        json!(challenge),
        json!(service_context)
    );
    let input = format!(
        "{}.{}",
        B64.encode(br#"{"alg":"PS256","typ":"attReqV2"}"#),
        B64.encode(payload.as_bytes())
    );
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PSS_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| TpmError::Malformed("signing the request"))?;
    Ok(json!({ "request": format!("{input}.{}", B64.encode(sig)) }))
}
