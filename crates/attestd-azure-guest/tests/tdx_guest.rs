//! Azure TDX CVM guests on `/attest/AzureGuest`: an `AttestationInfo` whose
//! `IsolationInfo.Evidence.Proof` is a TD quote (the testkit's test CA: no real TDX CVM evidence
//! with its TD quote is in the catalog) and whose vTPM quote is signed by the `HCLAkPub` of the
//! runtime data the quote binds. It verifies with `tdxvm` claims under `x-ms-isolation-tee`;
//! each broken link fails with its own code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_azure_guest::{AttestationInfo, AzureGuestVerifier, GuestVerifier, claims};
use attestd_dcap::TrustAnchors;
use attestd_dcap::tcb::AcceptedStatuses;
use attestd_evidence::{AttestationType, ClaimSet, Evidence, Verifier, VerifyContext};
use attestd_sgx::{SgxCollateral, StaticCollateral};
use attestd_snp::SnpVerifier;
use attestd_tdx::{TdxOptions, TdxVerifier};
use attestd_testkit::azure::{TDX_VM_ID, TdxGuest, b64};
use attestd_testkit::dcap::{Break, TestCa, TestPlatform};
use serde_json::{Value, json};

const NONCE: &[u8] = b"tdx-guest-nonce";

struct Setup {
    ca: TestCa,
    good: TestPlatform,
    out_of_date: TestPlatform,
    guest: TdxGuest,
}

fn setup() -> Setup {
    let ca = TestCa::new();
    let good = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 0, 1], None);
    let out_of_date = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 0, 2], Some(Break::OutOfDate));
    Setup {
        ca,
        good,
        out_of_date,
        guest: TdxGuest::new(),
    }
}

fn verifier(s: &Setup, platforms: &[&TestPlatform]) -> GuestVerifier {
    let source = StaticCollateral::new();
    for p in platforms {
        source.insert(SgxCollateral::from_json(&p.bundle).unwrap());
    }
    let tdx = TdxVerifier::new(
        TrustAnchors::insecure_test_roots(vec![s.ca.root_der()]),
        Arc::new(source),
    )
    .with_options(TdxOptions {
        accepted_statuses: AcceptedStatuses::default(),
    });
    GuestVerifier::new(Arc::new(SnpVerifier::with_bundled_roots().unwrap())).with_tdx(Arc::new(tdx))
}

async fn verify(v: &GuestVerifier, doc: &Value) -> Result<attestd_evidence::Appraisal, String> {
    let info = AttestationInfo::parse(doc.to_string().as_bytes()).map_err(|e| e.code.to_string())?;
    v.verify_info(info, SystemTime::now())
        .await
        .map(|v| claims::info_appraisal(&v))
        .map_err(|e| format!("{}", e.code))
}

fn code(r: Result<attestd_evidence::Appraisal, String>) -> String {
    r.expect_err("the evidence must be refused")
}

#[tokio::test]
async fn a_tdx_guest_gets_tdxvm_claims_and_an_attester() {
    let s = setup();
    let v = verifier(&s, &[&s.good]);
    let quote = s.good.td_quote(&s.guest.td);
    let mut doc = s.guest.attestation_info(&quote, NONCE);
    let started = std::time::Instant::now();
    let appraisal = verify(&v, &doc).await.unwrap();
    eprintln!("verified a TDX AttestationInfo in {:?}", started.elapsed());
    let c = serde_json::to_value(&appraisal.token_claims).unwrap();
    let tee = &c["x-ms-isolation-tee"];
    assert_eq!(tee["x-ms-attestation-type"], "tdxvm");
    assert_eq!(tee["tdx_mrtd"], hex::encode([0x7d; 48]));
    assert_eq!(tee["tdx_rtmr1"], hex::encode([0x22; 48]));
    assert_eq!(tee["attester_tcb_status"], "UpToDate");
    assert_eq!(tee["tdx_td_attributes_debug"], false);
    assert_eq!(
        tee["x-ms-runtime"],
        serde_json::from_slice::<Value>(&s.guest.runtime_data).unwrap()
    );
    assert!(tee.get("x-ms-sevsnpvm-launchmeasurement").is_none());
    assert_eq!(c["x-ms-azurevm-vmid"], TDX_VM_ID);
    assert_eq!(c["secureboot"], true);
    assert_eq!(c["x-ms-azurevm-attested-pcrs"].as_array().unwrap().len(), 24);
    assert_eq!(c["x-ms-azurevm-pcrs"]["7"], hex::encode([7u8; 32]));
    assert_eq!(c["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(c["x-ms-runtime"]["client-payload"]["nonce"], b64(NONCE));
    assert_eq!(c["x-ms-runtime"]["keys"][0]["kid"], "TpmEphemeralEncryptionKey");
    assert_eq!(appraisal.incoming.to_json_object()["x-ms-attestation-type"], "azurevm");
    let a = appraisal.attester.expect("an attester");
    assert_eq!(a.id, TDX_VM_ID);
    let names: Vec<&str> = a.measurements.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["PCR0", "PCR1", "PCR2", "PCR3", "PCR4", "PCR5", "PCR6", "PCR7", "mrtd"]
    );
    assert_eq!(a.measurements["mrtd"], hex::encode([0x7d; 48]));

    // With the HCL report the quote was made of (attestd's `HclReport` extension).
    doc["IsolationInfo"]["Evidence"]["HclReport"] = json!(b64(&s.guest.hcl_report()));
    verify(&v, &doc).await.unwrap();
    // The answer is sealed to the certified encryption key, as for SEV-SNP guests.
    let info = AttestationInfo::parse(doc.to_string().as_bytes()).unwrap();
    let verified = v.verify_info(info, SystemTime::now()).await.unwrap();
    assert!(verified.enc_key.is_some());
    let through = AzureGuestVerifier::new(v.clone());
    let evidence = Evidence {
        attestation_type: AttestationType::AzureGuest,
        bytes: doc.to_string().into_bytes(),
        runtime_data: None,
        init_time_data: None,
    };
    let configuration = ClaimSet::new();
    let ctx = VerifyContext {
        now: SystemTime::now(),
        configuration: &configuration,
    };
    let appraisal = through.verify(&evidence, &ctx).await.unwrap();
    assert!(appraisal.seal.is_some(), "a certified EncKeyPub seals the answer");
}

#[tokio::test]
async fn every_broken_link_of_a_tdx_guest_fails_with_its_own_code() {
    let s = setup();
    let v = verifier(&s, &[&s.good, &s.out_of_date]);
    let quote = s.good.td_quote(&s.guest.td);
    let doc = s.guest.attestation_info(&quote, NONCE);
    let with = |path: &[&str], value: Value| {
        let mut d = doc.clone();
        let mut at = &mut d;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        d
    };
    let evidence = ["IsolationInfo", "Evidence"];
    let field = |name: &'static str| [evidence[0], evidence[1], name];

    // Runtime data the TD did not bind (a well-formed runtime data of another guest).
    let other = TdxGuest::new();
    let unbound = with(&field("RunTimeData"), json!(b64(&other.runtime_data)));
    assert_eq!(code(verify(&v, &unbound).await), "HclBindingMismatch");

    // A TD quote whose body (MRTD) was changed after signing.
    let mut tampered = quote.clone();
    tampered[48 + 136] ^= 1;
    let d = with(&field("Proof"), json!(b64(&tampered)));
    assert_eq!(code(verify(&v, &d).await), "QuoteSignatureInvalid");
    // Not a quote at all.
    let d = with(&field("Proof"), json!(b64(b"not a TD quote")));
    assert_eq!(code(verify(&v, &d).await), "QuoteTooShort");

    // An HCL report that is not the one the quote was made of: other RTMRs, another runtime
    // data, or an SNP report.
    let mut td = s.guest.td.clone();
    td.rtmr[2] = [0x99; 48];
    let mut mismatched = TdxGuest::new();
    mismatched.runtime_data = s.guest.runtime_data.clone();
    mismatched.td = td;
    let d = with(&field("HclReport"), json!(b64(&mismatched.hcl_report())));
    assert_eq!(code(verify(&v, &d).await), "HclTdReportMismatch");
    let mut mrtd = s.guest.hcl_report();
    mrtd[0x20 + 528] ^= 1;
    let d = with(&field("HclReport"), json!(b64(&mrtd)));
    assert_eq!(code(verify(&v, &d).await), "HclTdReportMismatch");
    let mut snp = s.guest.hcl_report();
    snp[0x4c0 + 8] = 2; // runtime data report type: SNP
    let d = with(&field("HclReport"), json!(b64(&snp)));
    assert_eq!(code(verify(&v, &d).await), "HclTdReportMismatch");
    let d = with(&field("HclReport"), json!(b64(b"HCLA")));
    assert_eq!(code(verify(&v, &d).await), "HclReportMalformed");

    // The vTPM quote answers another nonce.
    let d = with(&["ClientPayload", "nonce"], json!(b64(b"another nonce")));
    assert_eq!(code(verify(&v, &d).await), "VtpmQuoteNonceMismatch");
    // A vTPM quote not signed by HCLAkPub.
    let d = with(&["TpmInfo", "PcrSignature"], json!(b64(&[7u8; 256])));
    assert_eq!(code(verify(&v, &d).await), "VtpmQuoteSignatureInvalid");
    // An encryption key the AK did not certify.
    let (_, _, sig) = other.certified_enc_key();
    let d = with(&["TpmInfo", "EncKeyCertifyInfoSignature"], json!(b64(&sig)));
    assert_eq!(code(verify(&v, &d).await), "EncKeyCertificationInvalid");

    // A platform whose TCB status is not accepted.
    let d = s.guest.attestation_info(&s.out_of_date.td_quote(&s.guest.td), NONCE);
    assert_eq!(code(verify(&v, &d).await), "TcbStatusNotAccepted");
    // No collateral for the platform: unavailable, not invalid.
    let none = verifier(&s, &[]);
    let info = AttestationInfo::parse(doc.to_string().as_bytes()).unwrap();
    let err = none.verify_info(info, SystemTime::now()).await.unwrap_err();
    assert_eq!(err.code, "CollateralNotFound");
    assert_eq!(err.kind, attestd_evidence::ErrorKind::CollateralUnavailable, "{err:?}");
    // A verifier without a TDX quote verifier refuses TDX guests.
    let snp_only = GuestVerifier::new(Arc::new(SnpVerifier::with_bundled_roots().unwrap()));
    let info = AttestationInfo::parse(doc.to_string().as_bytes()).unwrap();
    let err = snp_only.verify_info(info, SystemTime::now()).await.unwrap_err();
    assert_eq!(err.code, "UnsupportedIsolation");
    // A Tdx document without its evidence.
    let d = with(&["IsolationInfo", "Evidence"], json!({"Proof": b64(&quote)}));
    assert_eq!(code(verify(&v, &d).await), "AttestationInfoMalformed");
}
