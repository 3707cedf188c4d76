//! `SgxVerifier` on quotes and collateral of the testkit's test CA, on the real clock: the
//! positive case, and one negative per check, each failing with its own code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_claims::ClaimSet;
use attestd_dcap::TrustAnchors;
use attestd_evidence::{AttestationType, BoundData, DataType, Evidence, EvidenceError};
use attestd_sgx::{SgxCollateral, SgxVerifier, StaticCollateral};
use attestd_testkit::dcap::{Break, Enclave, TestCa, TestPlatform};

fn verify(ca: &TestCa, p: &TestPlatform, quote: Vec<u8>, runtime: Option<&[u8]>) -> Result<(), EvidenceError> {
    let source = StaticCollateral::new();
    source.insert(SgxCollateral::from_json(&p.bundle)?);
    let v = SgxVerifier::new(TrustAnchors::insecure_test_roots(vec![ca.root_der()]), Arc::new(source));
    let e = Evidence {
        attestation_type: AttestationType::SgxEnclave,
        bytes: quote,
        runtime_data: runtime.map(|b| BoundData {
            bytes: b.to_vec(),
            data_type: DataType::Binary,
        }),
        init_time_data: None,
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(v.appraise(&e, &ClaimSet::new(), SystemTime::now()))
        .map(|a| {
            assert_eq!(a.token_claims["x-ms-sgx-mrenclave"], hex::encode([0xe1; 32]));
            assert_eq!(a.token_claims["x-ms-sgx-tcb-status"], "UpToDate");
        })
}

#[test]
fn a_test_ca_quote_verifies_and_every_break_fails_its_own_check() {
    let ca = TestCa::new();
    let runtime = b"runtime data";
    let enclave = Enclave::default().binding(runtime);
    let good = ca.platform([0x10, 0, 0, 0, 0, 0], None);
    verify(&ca, &good, good.quote(&enclave), Some(runtime)).unwrap();
    // The same quote is not trusted under Intel's root.
    let source = StaticCollateral::new();
    source.insert(SgxCollateral::from_json(&good.bundle).unwrap());
    let intel = SgxVerifier::new(TrustAnchors::intel(), Arc::new(source));
    let e = Evidence {
        attestation_type: AttestationType::SgxEnclave,
        bytes: good.quote(&enclave),
        runtime_data: None,
        init_time_data: None,
    };
    let err = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(intel.appraise(&e, &ClaimSet::new(), SystemTime::now()))
        .unwrap_err();
    assert!(
        ["CrlSignatureInvalid", "CollateralChainInvalid", "PckChainInvalid"].contains(&err.code.as_ref()),
        "{} {}",
        err.code,
        err.message
    );

    let mismatch = verify(&ca, &good, good.quote(&enclave), Some(b"other data")).unwrap_err();
    assert_eq!(mismatch.code, "RuntimeDataMismatch");

    let cases = [
        (Break::QuoteSignature, "QuoteSignatureInvalid"),
        (Break::QeReportSignature, "QeReportSignatureInvalid"),
        (Break::QeReportData, "QeReportDataMismatch"),
        (Break::PckChain, "PckChainInvalid"),
        (Break::PckRevoked, "PckRevoked"),
        (Break::TcbInfoSignature, "TcbInfoSignatureInvalid"),
        (Break::QeIdentitySignature, "QeIdentitySignatureInvalid"),
        (Break::QeIdentityMismatch, "QeIdentityMismatch"),
        (Break::ExpiredCollateral, "CollateralExpired"),
        (Break::FmspcMismatch, "CollateralNotFound"),
        (Break::TcbNotSupported, "TcbLevelNotSupported"),
        (Break::OutOfDate, "TcbStatusNotAccepted"),
    ];
    for (i, (b, code)) in cases.into_iter().enumerate() {
        let p = ca.platform([0x20, i as u8, 0, 0, 0, 0], Some(b));
        let err = verify(&ca, &p, p.quote(&enclave), Some(runtime)).unwrap_err();
        assert_eq!(err.code, code, "{b:?}: {}", err.message);
    }
}

/// The QE report signature is verified once per PCK chain and (report, signature) pair: a warm
/// verifier still rejects any other report or signature under the same chain.
#[test]
fn a_cached_qe_report_vouches_only_for_itself() {
    let ca = TestCa::new();
    let runtime: &[u8] = b"runtime";
    let enclave = Enclave::default().binding(runtime);
    let p = ca.platform([0x30, 0, 0, 0, 0, 0], None);
    let source = StaticCollateral::new();
    source.insert(SgxCollateral::from_json(&p.bundle).unwrap());
    let v = SgxVerifier::new(TrustAnchors::insecure_test_roots(vec![ca.root_der()]), Arc::new(source));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let appraise = |quote: Vec<u8>| {
        let e = Evidence {
            attestation_type: AttestationType::SgxEnclave,
            bytes: quote,
            runtime_data: Some(BoundData {
                bytes: runtime.to_vec(),
                data_type: DataType::Binary,
            }),
            init_time_data: None,
        };
        rt.block_on(v.appraise(&e, &ClaimSet::new(), SystemTime::now()))
            .map(|_| ())
            .map_err(|e| e.code.to_string())
    };
    let good = p.quote(&enclave);
    // v3: header (48), ISV report (384), signature data length (4), quote signature (64),
    // attestation key (64), then the QE report (384) and its signature (64).
    let (report, signature) = (564..948, 948..1012);
    assert!(good.len() > signature.end);
    appraise(good.clone()).unwrap();
    appraise(good.clone()).unwrap();

    let mut other_signature = good.clone();
    other_signature[signature.start + 5] ^= 1;
    assert_eq!(appraise(other_signature).unwrap_err(), "QeReportSignatureInvalid");
    // A reserved byte of the QE report: identity and report data unchanged, signature broken.
    let mut other_report = good.clone();
    other_report[report.start + 30] ^= 1;
    assert_eq!(appraise(other_report).unwrap_err(), "QeReportSignatureInvalid");
    // The cached QE report with another attestation key: its report data does not commit to it.
    let attestation_key = 500..564;
    let mut other_key = good.clone();
    other_key[attestation_key.start + 7] ^= 1;
    assert_eq!(appraise(other_key).unwrap_err(), "QeReportDataMismatch");
    // The cached attestation key verifies only what it signed (a reserved byte of the ISV report).
    let mut other_body = good.clone();
    other_body[48 + 30] ^= 1;
    assert_eq!(appraise(other_body).unwrap_err(), "QuoteSignatureInvalid");
    appraise(good).unwrap();
}
