//! MAA's `x-ms-sgx-collateral` claim: SHA-256 digests of the evidence and of the collateral it was
//! verified with, as lower-case hex.
//!
//! MAA hashes the collateral buffers in the form Intel's QvE receives them (`sgx_ql_qve_collateral_t`):
//! NUL-terminated texts. Reproduced from Azure's own collateral cache (microsoft/ravl's
//! `sgx.coffeelake.att`, served in 2022) against the recorded MAA token of reference C.4:
//!
//! | key | SHA-256 of |
//! |---|---|
//! | `quotehash` | the evidence bytes exactly as sent (OE header included) |
//! | `tcbinfohash` | `{"tcbInfo":<TCB info text>,"signature":"<hex r‖s>"}` + NUL (Intel PCS's body) |
//! | `qeidhash` | `{"enclaveIdentity":<QE identity text>,"signature":"<hex r‖s>"}` + NUL |
//! | `tcbinfocertshash`, `qeidcertshash` | the issuer chain PEM + NUL |
//! | `tcbinfocrlhash`, `qeidcrlhash` | the Intel Root CA CRL as PEM (64-column lines, LF) + NUL |

use aws_lc_rs::digest;
use base64::Engine;
use serde_json::{Value, json};

/// The collateral parts of the claim, computed once per collateral bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralHashes {
    /// `qeidcertshash`.
    pub qe_identity_certs: String,
    /// `qeidcrlhash`.
    pub qe_identity_crl: String,
    /// `qeidhash`.
    pub qe_identity: String,
    /// `tcbinfocertshash`.
    pub tcb_info_certs: String,
    /// `tcbinfocrlhash`.
    pub tcb_info_crl: String,
    /// `tcbinfohash`.
    pub tcb_info: String,
}

/// The texts the hashes cover, as a DCAP collateral bundle holds them.
#[derive(Clone, Copy, Debug)]
pub struct CollateralTexts<'a> {
    /// The signed TCB info JSON (inner object).
    pub tcb_info: &'a str,
    /// Its signature, r‖s.
    pub tcb_info_signature: &'a [u8],
    /// The TCB info issuer chain, PEM.
    pub tcb_info_issuer_chain: &'a str,
    /// The signed QE identity JSON (inner object).
    pub qe_identity: &'a str,
    /// Its signature, r‖s.
    pub qe_identity_signature: &'a [u8],
    /// The QE identity issuer chain, PEM.
    pub qe_identity_issuer_chain: &'a str,
    /// The Intel Root CA CRL, DER.
    pub root_ca_crl_der: &'a [u8],
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex::encode(ctx.finish().as_ref())
}

/// SHA-256 of `text` as a NUL-terminated C string (a NUL already there is not doubled).
pub fn c_string_hash(text: &[u8]) -> String {
    if text.last() == Some(&0) {
        sha256_hex(&[text])
    } else {
        sha256_hex(&[text, b"\0"])
    }
}

/// The PEM text of a DER CRL as Intel's PCS and QvE carry it.
pub fn crl_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    pem.push_str("-----BEGIN X509 CRL-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END X509 CRL-----\n");
    pem
}

/// SHA-256 of Intel PCS's response body `{"<member>":<signed>,"signature":"<hex>"}` + NUL.
pub fn signed_body_hash(member: &str, signed: &str, signature: &[u8]) -> String {
    sha256_hex(&[
        b"{\"",
        member.as_bytes(),
        b"\":",
        signed.as_bytes(),
        b",\"signature\":\"",
        hex::encode(signature).as_bytes(),
        b"\"}\0",
    ])
}

impl CollateralHashes {
    /// The hashes of one collateral bundle.
    pub fn compute(t: &CollateralTexts<'_>) -> CollateralHashes {
        let crl = c_string_hash(crl_pem(t.root_ca_crl_der).as_bytes());
        CollateralHashes {
            qe_identity_certs: c_string_hash(t.qe_identity_issuer_chain.as_bytes()),
            qe_identity_crl: crl.clone(),
            qe_identity: signed_body_hash("enclaveIdentity", t.qe_identity, t.qe_identity_signature),
            tcb_info_certs: c_string_hash(t.tcb_info_issuer_chain.as_bytes()),
            tcb_info_crl: crl,
            tcb_info: signed_body_hash("tcbInfo", t.tcb_info, t.tcb_info_signature),
        }
    }

    /// The `x-ms-sgx-collateral` object for `evidence` (the bytes as sent), keys sorted as MAA
    /// emits them.
    pub fn claim(&self, evidence: &[u8]) -> Value {
        json!({
            "qeidcertshash": self.qe_identity_certs,
            "qeidcrlhash": self.qe_identity_crl,
            "qeidhash": self.qe_identity,
            "quotehash": sha256_hex(&[evidence]),
            "tcbinfocertshash": self.tcb_info_certs,
            "tcbinfocrlhash": self.tcb_info_crl,
            "tcbinfohash": self.tcb_info,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crl_pem_wraps_at_64_columns() {
        let pem = crl_pem(&[0u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN X509 CRL-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END X509 CRL-----"));
        assert!(pem.ends_with('\n'));
    }

    #[test]
    fn c_strings_are_terminated_once() {
        assert_eq!(c_string_hash(b"abc"), c_string_hash(b"abc\0"));
        assert_ne!(c_string_hash(b"abc"), sha256_hex(&[b"abc"]));
    }

    #[test]
    fn the_claim_has_maas_seven_keys_in_order() {
        let h = CollateralHashes::compute(&CollateralTexts {
            tcb_info: "{}",
            tcb_info_signature: &[1; 64],
            tcb_info_issuer_chain: "x",
            qe_identity: "{}",
            qe_identity_signature: &[2; 64],
            qe_identity_issuer_chain: "x",
            root_ca_crl_der: &[3],
        });
        let c = h.claim(b"quote");
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "qeidcertshash",
                "qeidcrlhash",
                "qeidhash",
                "quotehash",
                "tcbinfocertshash",
                "tcbinfocrlhash",
                "tcbinfohash"
            ]
        );
        assert_eq!(c["quotehash"], sha256_hex(&[b"quote"]));
        assert_eq!(c["qeidcertshash"], c["tcbinfocertshash"]);
        assert_ne!(c["qeidhash"], c["tcbinfohash"]);
    }
}
