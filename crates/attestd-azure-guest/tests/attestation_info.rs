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
async fn the_vm_is_named_for_the_attester_monitor_with_its_boot_measurements() {
    let info = AttestationInfo::parse(document().to_string().as_bytes()).unwrap();
    let verifier = GuestVerifier::new(Arc::new(SnpVerifier::with_bundled_roots().unwrap()));
    let appraisal = claims::info_appraisal(&verifier.verify_info(info, when()).await.unwrap());
    let c = serde_json::to_value(&appraisal.token_claims).unwrap();
    let a = appraisal.attester.expect("an attester");
    assert_eq!(a.id, "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
    let names: Vec<&str> = a.measurements.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "PCR0",
            "PCR1",
            "PCR2",
            "PCR3",
            "PCR4",
            "PCR5",
            "PCR6",
            "PCR7",
            "launchmeasurement"
        ]
    );
    assert_eq!(a.measurements["PCR0"], c["x-ms-azurevm-pcrs"]["0"].as_str().unwrap());
    assert_eq!(
        a.measurements["launchmeasurement"],
        c["x-ms-isolation-tee"]["x-ms-sevsnpvm-launchmeasurement"]
            .as_str()
            .unwrap()
    );
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
        (with(&["TcgLogs"], json!(b64(b"not a log"))), "TcgLogMalformed"),
        // A log whose PCR 12 is not the quoted one.
        (
            with(&["TcgLogs"], json!(b64(&windows_log(false).0))),
            "TcgLogPcrMismatch",
        ),
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

/// A TCG log (SHA-256) with Windows' boot configuration in PCR 12 (kernel debugging on or off),
/// and the PCR values it replays to.
fn windows_log(kernel_debug: bool) -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
    use attestd_tpm::eventlog::sipa;
    let data = sipa::encode(&[
        (sipa::BOOTDEBUGGING, vec![0]),
        (sipa::OSKERNELDEBUG, vec![u8::from(kernel_debug)]),
        (0x0005_0002, vec![1]), // CODEINTEGRITY
    ]);
    let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data)
        .as_ref()
        .try_into()
        .unwrap();
    let mut b = attestd_client::EventLogBuilder::new();
    b.event(12, 6, &digest, &data); // EV_EVENT_TAG
    let log = b.bytes().to_vec();
    let parsed = attestd_tpm::eventlog::EventLog::parse(&log).unwrap();
    let pcrs = parsed
        .replay()
        .into_iter()
        .find(|(alg, _)| *alg == attestd_tpm::eventlog::HashAlg::Sha256)
        .unwrap()
        .1;
    (log, pcrs)
}

#[test]
fn tcg_logs_give_boot_claims_only_for_quoted_pcrs_they_reproduce() {
    use attestd_azure_guest::tcglog::boot_claims;
    for on in [false, true] {
        let (log, pcrs) = windows_log(on);
        let c: std::collections::BTreeMap<_, _> = boot_claims(&log, &pcrs).unwrap().into_iter().collect();
        assert_eq!(c["x-ms-azurevm-kerneldebug-enabled"], json!(on));
        assert_eq!(c["x-ms-azurevm-bootdebug-enabled"], json!(false));
        assert_eq!(c["x-ms-azurevm-debuggersdisabled"], json!(!on));
        assert_eq!(c["x-ms-azurevm-signingdisabled"], json!(false));
    }
    let (log, pcrs) = windows_log(true);
    // PCR 12 not quoted: its events prove nothing, no claim.
    assert!(boot_claims(&log, &[(0, vec![0; 32])]).unwrap().is_empty());
    // Quoted with another value.
    let other = vec![(12, vec![9u8; 32])];
    assert_eq!(boot_claims(&log, &other).unwrap_err().code, "TcgLogPcrMismatch");
    // Every truncation fails or yields no claims, never panics.
    for n in 0..log.len() {
        let _ = boot_claims(&log[..n], &pcrs);
    }
}
