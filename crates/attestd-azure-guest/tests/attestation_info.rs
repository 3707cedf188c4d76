//! MAA's `AttestationInfo` (`/attest/AzureGuest`) built from the catalog's AZ-SNP-4 evidence
//! (trustee's Milan HCL report, vTPM quote and VCEK chain) as the Azure guest attestation
//! libraries send it: verified, with the nonce from `ClientPayload`, `AikPub` bound to
//! `HCLAkPub`, and each malformed or mismatching field refused with its own code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_azure_guest::{AttestationInfo, GuestVerifier, claims};
use attestd_snp::SnpVerifier;
use serde_json::{Value, json};

fn when() -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_748_736_000) // 2025-06-01
}

use attestd_testkit::azure::{attestation_info as document, b64, tpm2b_public};

async fn verify(doc: &Value) -> Result<Value, String> {
    let info = AttestationInfo::parse(doc.to_string().as_bytes()).map_err(|e| e.code.to_string())?;
    let verifier = GuestVerifier::new(Arc::new(SnpVerifier::with_bundled_roots().unwrap()));
    verifier
        .verify_info(info, when())
        .await
        .map(|v| serde_json::to_value(claims::info_appraisal(&v).token_claims).unwrap())
        .map_err(|e| e.code.to_string())
}

#[tokio::test]
async fn an_attestation_info_of_real_evidence_verifies() {
    let c = verify(&document()).await.unwrap();
    assert_eq!(c["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(c["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(c["x-ms-azurevm-osdistro"], "Ubuntu");
    assert_eq!(c["x-ms-azurevm-osversion-major"], 22);
    assert_eq!(c["x-ms-azurevm-is-windows"], false);
    assert_eq!(c["x-ms-runtime"]["client-payload"]["nonce"], b64(b"challenge"));
    assert_eq!(c["x-ms-azurevm-attested-pcrs"].as_array().unwrap().len(), 24);
    assert_eq!(c["x-ms-azurevm-vmid"], "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
}

#[tokio::test]
async fn every_field_is_checked_with_its_own_code() {
    let base = document();
    let with = |path: &[&str], v: Value| {
        let mut d = base.clone();
        let mut at = &mut d;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        d
    };
    let cases = [
        (
            with(&["ClientPayload", "nonce"], json!(b64(b"egnellahc"))),
            "VtpmQuoteNonceMismatch",
        ),
        (
            with(&["TpmInfo", "PcrSignature"], json!(b64(&[7u8; 256]))),
            "VtpmQuoteSignatureInvalid",
        ),
        (
            with(
                &["IsolationInfo", "Evidence", "RunTimeData"],
                json!(b64(br#"{"keys":[]}"#)),
            ),
            "HclBindingMismatch",
        ),
        (
            with(&["TpmInfo", "AikPub"], json!(b64(&tpm2b_public(&[0xab; 256])))),
            "AikMismatch",
        ),
        (
            with(&["TpmInfo", "EncKeyPub"], json!(b64(&tpm2b_public(&[0xab; 256])))),
            "EncKeyCertificationInvalid",
        ),
        (
            with(&["IsolationInfo", "Type"], json!("TrustedLaunch")),
            "UnsupportedIsolation",
        ),
        (
            with(&["IsolationInfo", "Type"], json!("Sgx")),
            "AttestationInfoMalformed",
        ),
        (
            with(&["TpmInfo", "PcrQuote"], json!("not base64!")),
            "AttestationInfoMalformed",
        ),
        (with(&["OSVersionMajor"], json!("22")), "AttestationInfoMalformed"),
    ];
    for (doc, code) in cases {
        assert_eq!(verify(&doc).await.unwrap_err(), code);
    }
    // PCR entries (an array).
    let mut d = base.clone();
    d["TpmInfo"]["PCRs"][3]["Digest"] = json!(b64(&[1u8; 32]));
    assert_eq!(verify(&d).await.unwrap_err(), "VtpmPcrMismatch");
    let mut d = base.clone();
    d["TpmInfo"]["PCRs"][0]["Index"] = json!(24);
    assert_eq!(verify(&d).await.unwrap_err(), "AttestationInfoMalformed");
    assert_eq!(verify(&json!([1])).await.unwrap_err(), "AttestationInfoMalformed");
}
