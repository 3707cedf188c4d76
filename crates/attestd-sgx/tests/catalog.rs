//! `SgxVerifier` on the SGX and Open Enclave cases of the shared vector catalog (CATALOG.md
//! sections 2 and 8), at the catalog's times, with the collateral held in a `StaticCollateral`:
//! MAA's claims, the accepted-status setting, runtime-data binding and the TCB baseline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_claims::ClaimSet;
use attestd_dcap::TrustAnchors;
use attestd_dcap::tcb::{AcceptedStatuses, TcbStatus};
use attestd_evidence::{Appraisal, AttestationType, BoundData, DataType, Evidence, EvidenceError};
use attestd_sgx::{SgxCollateral, SgxOptions, SgxVerifier, StaticCollateral, TCB_IDENTIFIER_CLAIM};
use aws_lc_rs::digest;
use base64::Engine;
use serde_json::{Value, json};

const AZ_BUNDLE: &str = "intel-collateral/composed/sgx_00906ED50000_2025-06.json";
const AZ_TIME: &str = "2025-06-25T00:00:00Z";
const ICX_BUNDLE: &str = "intel-collateral/composed/sgx_00606A000000_2025-08.json";

fn read(p: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, b).as_ref())
}

/// The evidence of a microsoft/ravl `.att` file.
fn ravl(file: &str) -> Vec<u8> {
    let j: Value = serde_json::from_slice(&read(&format!("sgx-dcap/ravl/{file}"))).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(j["evidence"].as_str().unwrap())
        .unwrap()
}

fn source(bundles: &[&str]) -> Arc<StaticCollateral> {
    let s = StaticCollateral::new();
    for b in bundles {
        s.insert(SgxCollateral::from_json(&read(b)).unwrap_or_else(|e| panic!("{b}: {e}")));
    }
    Arc::new(s)
}

fn verifier(bundles: &[&str], accepted: AcceptedStatuses) -> SgxVerifier {
    SgxVerifier::new(TrustAnchors::intel(), source(bundles)).with_options(SgxOptions {
        accepted_statuses: accepted,
    })
}

fn out_of_date_ok() -> AcceptedStatuses {
    AcceptedStatuses::default().with(TcbStatus::OutOfDate)
}

fn evidence(ty: AttestationType, bytes: Vec<u8>, runtime: Option<BoundData>) -> Evidence {
    Evidence {
        attestation_type: ty,
        bytes,
        runtime_data: runtime,
        init_time_data: None,
    }
}

fn appraise(v: &SgxVerifier, e: &Evidence, config: &ClaimSet, time: &str) -> Result<Appraisal, EvidenceError> {
    futures_lite(v.appraise(e, config, at(time)))
}

/// Runs a future to completion on a current-thread runtime.
fn futures_lite<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn ok(case: &str, v: &SgxVerifier, e: &Evidence, time: &str) -> Appraisal {
    appraise(v, e, &ClaimSet::new(), time).unwrap_or_else(|err| panic!("{case}: {} {}", err.code, err.message))
}

fn fails(case: &str, v: &SgxVerifier, e: &Evidence, config: &ClaimSet, time: &str) -> EvidenceError {
    match appraise(v, e, config, time) {
        Ok(a) => panic!(
            "{case}: verified ({:?}) but must fail",
            a.token_claims.get("x-ms-sgx-tcb-status")
        ),
        Err(err) => err,
    }
}

fn claim<'a>(a: &'a Appraisal, name: &str) -> &'a Value {
    a.token_claims
        .get(name)
        .unwrap_or_else(|| panic!("no claim {name} in {:?}", a.token_claims.keys()))
}

/// The `x-ms-sgx-collateral` hashes other than `quotehash` come from the bundle.
fn assert_collateral_hashes(a: &Appraisal, bundle: &str, sent: &[u8]) {
    let b = SgxCollateral::from_json(&read(bundle)).unwrap();
    let mut expected = b.hashes().claim(sent);
    assert_eq!(expected["quotehash"], json!(sha256_hex(sent)));
    assert_eq!(claim(a, "x-ms-sgx-collateral"), &expected);
    assert_eq!(claim(a, "maa-attestationcollateral"), &expected);
    for k in [
        "qeidcertshash",
        "qeidcrlhash",
        "qeidhash",
        "tcbinfocertshash",
        "tcbinfocrlhash",
        "tcbinfohash",
    ] {
        let h = expected[k].take();
        let h = h.as_str().unwrap();
        assert_eq!(h.len(), 64, "{k}");
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()), "{k}: {h}");
    }
}

#[test]
fn sgx_qvl_1_claims_status_and_advisories() {
    let bundle = "sgx-dcap/dcap-qvl/sgx_quote_collateral.json";
    let v = verifier(
        &[bundle],
        AcceptedStatuses::default().with(TcbStatus::ConfigurationAndSWHardeningNeeded),
    );
    let q = read("sgx-dcap/dcap-qvl/sgx_quote");
    let e = evidence(AttestationType::SgxEnclave, q.clone(), None);
    let a = ok("SGX-QVL-1", &v, &e, "2025-07-01T00:00:00Z");
    assert_eq!(
        claim(&a, "x-ms-sgx-mrenclave"),
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrsigner"),
        "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    );
    assert_eq!(claim(&a, "x-ms-sgx-product-id"), 0);
    assert_eq!(claim(&a, "x-ms-sgx-svn"), 0);
    // ATTRIBUTES.FLAGS = 0x05 (INIT | MODE64BIT): the DEBUG bit (0x02) is clear, although the
    // catalog labels this quote "debug".
    assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), false);
    let mut rd = b"Hello, world!".to_vec();
    rd.resize(64, 0);
    assert_eq!(claim(&a, "x-ms-sgx-report-data"), &json!(hex::encode(&rd)));
    assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "ConfigurationAndSWHardeningNeeded");
    assert_eq!(
        claim(&a, "x-ms-sgx-advisory-ids"),
        &json!(["INTEL-SA-00289", "INTEL-SA-00615"])
    );
    assert_eq!(claim(&a, "x-ms-sgx-tcbidentifier"), "azuredefault");
    assert!(!a.token_claims.contains_key("x-ms-sgx-ehd"));
    assert!(!a.token_claims.contains_key("x-ms-runtime"));
    assert_collateral_hashes(&a, bundle, &q);
    // Incoming claims for the policy, with the legacy aliases.
    assert_eq!(
        a.incoming.value("x-ms-attestation-type").map(|c| c.to_json()),
        Some(json!("sgx"))
    );
    assert_eq!(
        a.incoming.value("$sgx-mrenclave").map(|c| c.to_json()),
        Some(claim(&a, "x-ms-sgx-mrenclave").clone())
    );

    // Not accepted by default.
    let err = fails(
        "SGX-QVL-1 default",
        &verifier(&[bundle], AcceptedStatuses::default()),
        &e,
        &ClaimSet::new(),
        "2025-07-01T00:00:00Z",
    );
    assert_eq!(err.code, "TcbStatusNotAccepted", "{}", err.message);
    assert!(
        err.message.contains("ConfigurationAndSWHardeningNeeded"),
        "{}",
        err.message
    );

    // SGX-QVL-1n: expired collateral.
    let err = fails("SGX-QVL-1n", &v, &e, &ClaimSet::new(), "2025-07-20T00:00:00Z");
    assert_eq!(err.code, "CollateralExpired", "{}", err.message);
}

#[test]
fn sgx_ada_1_sw_hardening_needed_is_accepted_by_default() {
    let v = verifier(&[ICX_BUNDLE], AcceptedStatuses::default());
    let q = read("sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin");
    let a = ok(
        "SGX-ADA-1",
        &v,
        &evidence(AttestationType::SgxEnclave, q.clone(), None),
        "2025-08-15T05:45:00Z",
    );
    assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "SWHardeningNeeded");
    assert_eq!(claim(&a, "x-ms-sgx-advisory-ids"), &json!(["INTEL-SA-00615"]));
    assert_eq!(
        claim(&a, "x-ms-sgx-mrenclave"),
        "a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd"
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrsigner"),
        "8f2dbc0f9c5d3378d596974b2deed1f93223cc49242899f83809bcc92546132c"
    );
    // ATTRIBUTES.FLAGS = 0x05: not debuggable (the catalog's "debug" label is wrong).
    assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), false);
    assert_eq!(claim(&a, "x-ms-sgx-report-data"), &json!(hex::encode([0u8; 64])));
    assert_collateral_hashes(&a, ICX_BUNDLE, &q);
}

#[test]
fn sgx_tr_1_and_ravl_out_of_date_need_the_setting() {
    let cases = [
        (
            "SGX-TR-1",
            read("sgx-dcap/trustee/occlum_quote.dat"),
            ICX_BUNDLE,
            "2025-08-20T00:00:00Z",
        ),
        ("SGX-RAVL-1c", ravl("sgx.coffeelake.att"), AZ_BUNDLE, AZ_TIME),
        (
            "SGX-RAVL-2c",
            ravl("sgx.icelake.att"),
            ICX_BUNDLE,
            "2025-08-20T00:00:00Z",
        ),
    ];
    for (case, quote, bundle, time) in cases {
        let e = evidence(AttestationType::SgxEnclave, quote, None);
        let err = fails(
            case,
            &verifier(&[bundle], AcceptedStatuses::default()),
            &e,
            &ClaimSet::new(),
            time,
        );
        assert_eq!(err.code, "TcbStatusNotAccepted", "{case}: {}", err.message);
        assert!(err.message.contains("OutOfDate"), "{case}: {}", err.message);
        let a = ok(case, &verifier(&[bundle], out_of_date_ok()), &e, time);
        assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "OutOfDate", "{case}");
    }
    let a = ok(
        "SGX-TR-1",
        &verifier(&[ICX_BUNDLE], out_of_date_ok()),
        &evidence(
            AttestationType::SgxEnclave,
            read("sgx-dcap/trustee/occlum_quote.dat"),
            None,
        ),
        "2025-08-20T00:00:00Z",
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrenclave"),
        "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68"
    );
    // ATTRIBUTES.FLAGS = 0x07: DEBUG set.
    assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), true);
    let mut rd = b"test".to_vec();
    rd.resize(64, 0);
    assert_eq!(claim(&a, "x-ms-sgx-report-data"), &json!(hex::encode(&rd)));
    assert_eq!(
        claim(&a, "x-ms-sgx-advisory-ids").as_array().map(Vec::len),
        Some(10),
        "{:?}",
        claim(&a, "x-ms-sgx-advisory-ids")
    );
}

#[test]
fn sgx_az_quotes_with_binary_and_json_runtime_data() {
    let v = verifier(&[AZ_BUNDLE], out_of_date_ok());
    let quote = read("azure-sdk/py-sdk-1.0.0/sgx_quote.bin");
    let runtime = read("azure-sdk/py-sdk-1.0.0/runtime_data.bin");
    let binary = BoundData {
        bytes: runtime.clone(),
        data_type: DataType::Binary,
    };
    let a = ok(
        "SGX-AZ-1 binary",
        &v,
        &evidence(AttestationType::SgxEnclave, quote.clone(), Some(binary)),
        AZ_TIME,
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrenclave"),
        "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2"
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrsigner"),
        "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa"
    );
    assert_eq!(claim(&a, "x-ms-sgx-product-id"), 1);
    assert_eq!(claim(&a, "x-ms-sgx-svn"), 1);
    assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), false);
    let ehd = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&runtime);
    for name in ["x-ms-sgx-ehd", "aas-ehd", "maa-ehd"] {
        assert_eq!(claim(&a, name), &json!(ehd), "{name}");
    }
    assert!(!a.token_claims.contains_key("x-ms-runtime"));
    assert_eq!(
        claim(&a, "x-ms-sgx-collateral")["quotehash"],
        "af0e05631c145d7dc1a33b214d43c6aa34a7859622a0ac7d880ab7b24e2f18d2"
    );
    assert_collateral_hashes(&a, AZ_BUNDLE, &quote);

    let as_json = BoundData {
        bytes: runtime.clone(),
        data_type: DataType::Json,
    };
    let a = ok(
        "SGX-AZ-1 json",
        &v,
        &evidence(AttestationType::SgxEnclave, quote.clone(), Some(as_json)),
        AZ_TIME,
    );
    let parsed: Value = serde_json::from_slice(&runtime).unwrap();
    assert_eq!(claim(&a, "x-ms-runtime"), &parsed);
    assert_eq!(claim(&a, "x-ms-runtime")["jwk"]["kty"], "EC");
    assert!(!a.token_claims.contains_key("x-ms-sgx-ehd"));

    // Runtime data that is not what the enclave bound.
    let mut other = runtime.clone();
    other.push(b' ');
    let err = fails(
        "SGX-AZ-1 runtime mismatch",
        &v,
        &evidence(
            AttestationType::SgxEnclave,
            quote.clone(),
            Some(BoundData {
                bytes: other,
                data_type: DataType::Binary,
            }),
        ),
        &ClaimSet::new(),
        AZ_TIME,
    );
    assert_eq!(err.code, "RuntimeDataMismatch", "{}", err.message);
    assert!(err.message.contains("runtimeData"), "{}", err.message);

    // The C++ SDK quotes: debug and non-debug.
    for (file, debug) in [
        ("azure-sdk/cpp-sdk/sgx_quote_debug.bin", true),
        ("azure-sdk/cpp-sdk/sgx_quote_nondebug.bin", false),
    ] {
        let a = ok(
            file,
            &v,
            &evidence(AttestationType::SgxEnclave, read(file), None),
            AZ_TIME,
        );
        assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), debug, "{file}");
        assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "OutOfDate", "{file}");
    }
}

#[test]
fn open_enclave_reports_and_evidence() {
    let v = verifier(&[AZ_BUNDLE, ICX_BUNDLE], out_of_date_ok());
    // Azure SDK OE reports: the quote behind a 16-byte header; quotehash covers the header.
    let report = read("azure-sdk/py-sdk-1.0.0/oe_report.bin");
    let runtime = read("azure-sdk/py-sdk-1.0.0/runtime_data.bin");
    let a = ok(
        "OE py-sdk",
        &v,
        &evidence(
            AttestationType::OpenEnclave,
            report.clone(),
            Some(BoundData {
                bytes: runtime,
                data_type: DataType::Json,
            }),
        ),
        AZ_TIME,
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-collateral")["quotehash"],
        "949b189c928f25c0a8090ae57d9f481b3435f26fb9a4d7e86e2619770d29c13f"
    );
    assert_eq!(
        claim(&a, "x-ms-sgx-mrenclave"),
        "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2"
    );
    assert_eq!(claim(&a, "x-ms-runtime")["jwk"]["kty"], "EC");
    for (file, debug) in [
        ("azure-sdk/cpp-sdk/oe_report_debug.bin", true),
        ("azure-sdk/cpp-sdk/oe_report_nondebug.bin", false),
    ] {
        let a = ok(
            file,
            &v,
            &evidence(AttestationType::OpenEnclave, read(file), None),
            AZ_TIME,
        );
        assert_eq!(claim(&a, "x-ms-sgx-is-debuggable"), debug, "{file}");
    }
    // A report whose header announces more bytes than follow.
    let mut short = report.clone();
    short.pop();
    let err = fails(
        "OE report cut short",
        &v,
        &evidence(AttestationType::OpenEnclave, short, None),
        &ClaimSet::new(),
        AZ_TIME,
    );
    assert_eq!(err.code, "OeReportSizeMismatch", "{}", err.message);
    assert!(err.message.contains("report_size"), "{}", err.message);

    // OE-RAVL-1/2 with the composed collateral: quote + custom claims bound by REPORTDATA.
    for (file, time) in [
        ("oe.coffelake.att", AZ_TIME),
        ("oe.icelake.att", "2025-08-20T00:00:00Z"),
    ] {
        let bytes = ravl(file);
        let a = ok(
            file,
            &v,
            &evidence(AttestationType::OpenEnclave, bytes.clone(), None),
            time,
        );
        assert_eq!(
            &claim(&a, "x-ms-sgx-report-data").as_str().unwrap()[..64],
            "eb25d81f4f63955418e015f4e8e660172aab0a207c1de9d26fd84877e5e6afc8",
            "{file}"
        );
        assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "OutOfDate", "{file}");
        // One flipped byte in the custom claims breaks the binding.
        let mut broken = bytes.clone();
        if let Some(last) = broken.last_mut() {
            *last ^= 1;
        }
        let err = fails(
            file,
            &v,
            &evidence(AttestationType::OpenEnclave, broken, None),
            &ClaimSet::new(),
            time,
        );
        assert!(
            err.code == "OeCustomClaimsMismatch" || err.code == "OeCustomClaimsMalformed",
            "{file}: {} {}",
            err.code,
            err.message
        );
    }
}

#[test]
fn tcb_identifier_pins_the_baseline() {
    let v = verifier(&[AZ_BUNDLE], out_of_date_ok());
    let e = evidence(
        AttestationType::SgxEnclave,
        read("azure-sdk/py-sdk-1.0.0/sgx_quote.bin"),
        None,
    );
    let have = SgxCollateral::from_json(&read(AZ_BUNDLE))
        .unwrap()
        .collateral()
        .tcb_evaluation_data_number();
    let mut pinned = ClaimSet::new();
    pinned.add(TCB_IDENTIFIER_CLAIM, have.to_string());
    let a = appraise(&v, &e, &pinned, AZ_TIME).unwrap();
    assert_eq!(claim(&a, "x-ms-sgx-tcbidentifier"), &json!(have.to_string()));

    let mut missing = ClaimSet::new();
    missing.add(TCB_IDENTIFIER_CLAIM, (have + 1).to_string());
    let err = fails("pinned to an absent baseline", &v, &e, &missing, AZ_TIME);
    assert_eq!(err.code, "TcbBaselineUnavailable", "{}", err.message);

    let mut bad = ClaimSet::new();
    bad.add(TCB_IDENTIFIER_CLAIM, "latest");
    assert_eq!(
        fails("bad identifier", &v, &e, &bad, AZ_TIME).code,
        "TcbIdentifierInvalid"
    );
}

#[test]
fn collateral_for_another_platform_is_not_found() {
    let v = verifier(&[ICX_BUNDLE], out_of_date_ok());
    let e = evidence(
        AttestationType::SgxEnclave,
        read("azure-sdk/py-sdk-1.0.0/sgx_quote.bin"),
        None,
    );
    let err = fails("no collateral", &v, &e, &ClaimSet::new(), AZ_TIME);
    assert_eq!(err.code, "CollateralNotFound", "{}", err.message);
    assert!(err.message.contains("00906ED50000"), "{}", err.message);
}

/// The evidence and endorsements of a microsoft/ravl `.att` file.
fn ravl_with_endorsements(file: &str) -> (Vec<u8>, Vec<u8>) {
    let j: Value = serde_json::from_slice(&read(&format!("sgx-dcap/ravl/{file}"))).unwrap();
    let b64 = |k: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(j[k].as_str().unwrap())
            .unwrap()
    };
    (b64("evidence"), b64("endorsements"))
}

/// Wraps parsed collateral with its own TCB info and QE identity signatures.
fn wrap(c: attestd_dcap::Collateral) -> SgxCollateral {
    let (t, q) = (*c.tcb_info_signature(), *c.qe_identity_signature());
    SgxCollateral::new(c, t, q).unwrap()
}

fn verifier_over(bundles: Vec<SgxCollateral>, accepted: AcceptedStatuses) -> SgxVerifier {
    let s = StaticCollateral::new();
    for b in bundles {
        s.insert(b);
    }
    SgxVerifier::new(TrustAnchors::intel(), Arc::new(s)).with_options(SgxOptions {
        accepted_statuses: accepted,
    })
}

/// The dcap-rs collateral of February 2025 from its raw parts.
fn dcap_rs() -> SgxCollateral {
    let d = "intel-collateral/dcap-rs/";
    let pck_ca: Vec<u8> = [
        read("intel-collateral/automata-dcap-attestation/pck_platform_ca.der"),
        read("roots/Intel_SGX_RootCA.der"),
    ]
    .concat();
    let signer = read(&format!("{d}tcb_signing_cert.pem"));
    let c = attestd_dcap::Collateral::from_parts(attestd_dcap::CollateralParts {
        tcb_info: &read(&format!("{d}tcbinfov2.json")),
        tcb_info_issuer_chain: &signer,
        qe_identity: &read(&format!("{d}qeidentityv2.json")),
        qe_identity_issuer_chain: &signer,
        pck_crl: &read(&format!("{d}pck_platform_crl.der")),
        pck_crl_issuer_chain: &pck_ca,
        root_ca_crl: &read(&format!("{d}intel_root_ca_crl.der")),
    })
    .unwrap();
    wrap(c)
}

fn hex_quote(p: &str) -> Vec<u8> {
    let text = String::from_utf8(read(p)).unwrap();
    let text = text.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).unwrap()
}

#[test]
fn sgx_rs_1_out_of_date_with_tcb_info_v2_and_rs_1n_expired() {
    let e = evidence(
        AttestationType::SgxEnclave,
        hex_quote("sgx-dcap/dcap-rs/sgx_v3_quote.hex"),
        None,
    );
    let v = verifier_over(vec![dcap_rs()], out_of_date_ok());
    let a = ok("SGX-RS-1", &v, &e, "2025-02-13T04:00:32Z");
    assert_eq!(claim(&a, "x-ms-sgx-tcb-status"), "OutOfDate");
    assert_eq!(claim(&a, "x-ms-sgx-advisory-ids"), &json!([]));
    assert_eq!(
        claim(&a, "x-ms-sgx-mrsigner"),
        "1bda23eb3a807dfe735ddcebbfa2eac05e04a00df2804296612f770b594180ba"
    );
    let err = fails("SGX-RS-1n", &v, &e, &ClaimSet::new(), "2025-06-01T00:00:00Z");
    assert!(
        ["CollateralExpired", "CollateralCertExpired"].contains(&err.code.as_ref()),
        "{} {}",
        err.code,
        err.message
    );
}

#[test]
fn ravl_sgx_quotes_with_their_own_stale_azure_endorsements_fail_at_every_time() {
    // (The OE files' endorsements use OE's own endorsement layout, which is not parsed here; the
    // OE evidence is covered with current collateral in `open_enclave_reports_and_evidence`.)
    for (file, ty) in [
        ("sgx.coffeelake.att", AttestationType::SgxEnclave),
        ("sgx.icelake.att", AttestationType::SgxEnclave),
    ] {
        let (bytes, endorsements) = ravl_with_endorsements(file);
        let collateral = attestd_dcap::Collateral::from_qve_be_bytes(&endorsements).unwrap();
        let v = verifier_over(vec![wrap(collateral)], AcceptedStatuses::all_but_revoked());
        let e = evidence(ty, bytes, None);
        for time in ["2021-04-01T00:00:00Z", "2022-08-30T00:00:00Z", "2025-06-25T00:00:00Z"] {
            let err = fails(file, &v, &e, &ClaimSet::new(), time);
            assert!(
                ["CollateralExpired", "CollateralNotYetValid", "CollateralCertExpired"].contains(&err.code.as_ref()),
                "{file} at {time}: {} {}",
                err.code,
                err.message
            );
        }
    }
}
