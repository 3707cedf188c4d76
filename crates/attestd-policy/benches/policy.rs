//! Policy compile and evaluation costs: MAA's default SGX policy on SGX claims, and the
//! reference's TPM 1.2 policy (B.9 Ex 10: secure boot, HVCI, unwanted driver) that runs JmesPath
//! over a boot event log.
//!
//! `cargo bench -p attestd-policy`

use std::hint::black_box;
use std::sync::Arc;

use attestd_claims::{ClaimSet, ClaimValue};
use attestd_policy::Policy;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn sgx_claims() -> ClaimSet {
    let mut c = ClaimSet::new();
    let mrsigner = "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa";
    let mrenclave = "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2";
    for (name, v) in [
        ("x-ms-sgx-is-debuggable", ClaimValue::Bool(false)),
        ("x-ms-sgx-mrsigner", mrsigner.into()),
        ("x-ms-sgx-mrenclave", mrenclave.into()),
        ("x-ms-sgx-product-id", ClaimValue::Integer(1)),
        ("x-ms-sgx-svn", ClaimValue::Integer(1)),
        ("x-ms-attestation-type", "sgx".into()),
        (
            "x-ms-sgx-report-data",
            "ed11a9eb97dfc17053a32a6992e71d04f7ec996e45519ab710936afb48f9041d".into(),
        ),
        ("x-ms-sgx-tcb-status", "UpToDate".into()),
        ("$is-debuggable", ClaimValue::Bool(false)),
        ("$sgx-mrsigner", mrsigner.into()),
        ("$sgx-mrenclave", mrenclave.into()),
        ("$product-id", ClaimValue::Integer(1)),
        ("$svn", ClaimValue::Integer(1)),
        ("$tee", "sgx".into()),
    ] {
        c.add(name, v);
    }
    c
}

/// A boot log in the `events` schema of reference C.5.4: 120 events, the size of a typical
/// Windows Trusted Launch boot.
fn tpm_claims() -> ClaimSet {
    let mut events = Vec::new();
    for i in 0..100 {
        events.push(
            json!({"EventNum": i, "PcrIndex": i % 8, "EventTypeString": "EV_EFI_BOOT_SERVICES_APPLICATION",
            "Digests": [{"AlgorithmId": "sha256", "Digest": "3q2-796tvu_erb7v3q2-796tvu_erb7v3q2-796tvu8"}],
            "ProcessedData": {"DevicePath": format!("\\EFI\\Boot\\app{i}.efi")}}),
        );
    }
    for (name, data) in [
        ("SecureBoot", "AQ"),
        ("PK", "oUDEHr..."),
        ("KEK", "oUDEHr..."),
        ("db", "oUDEHr..."),
        ("dbx", "JhbExr..."),
    ] {
        events.push(json!({"PcrIndex": 7, "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
            "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": name, "VariableData": data}}));
    }
    for pcr in [12, 13, 19, 20] {
        let modules: Vec<_> = (0..3)
            .map(|m| json!({"EVENT_FILEPATH": format!("\\windows\\system32\\drivers\\d{pcr}_{m}.sys"), "EVENT_IMAGEVALIDATED": true,
                            "EVENT_AUTHENTICODEHASH": "c1ys0_13AAAA"}))
            .collect();
        events.push(
            json!({"PcrIndex": pcr, "EventTypeString": "EV_EVENT_TAG", "ProcessedData": {"EVENT_TRUSTBOUNDARY": {
            "EVENT_VBS_HVCI_POLICY": {"String": "HypervisorEnforcedCodeIntegrityEnable", "Value": 1},
            "EVENT_LOADEDMODULE_AGGREGATION": modules, "EVENT_BOOTDEBUGGING": false}}}),
        );
    }
    let mut c = ClaimSet::new();
    c.add("events", ClaimValue::Json(Arc::new(json!({"Events": events}))));
    c.add("aikValidated", true);
    c.add("secureBootEnabled", true);
    c
}

/// Reference B.9 Ex 10, read from the shared reference.
fn tpm_policy() -> String {
    let path = attestd_testkit::vectors_dir().join("../reference/maa-api.md");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let at = text.find("malicious.sys").unwrap_or(0);
    let start = text[..at].rfind("```\n").map_or(0, |s| s + 4);
    let end = text[at..].find("```").map_or(text.len(), |e| at + e);
    text[start..end].to_owned()
}

fn bench(c: &mut Criterion) {
    let sgx = Policy::compile(attestd_policy::defaults::SGX_DEFAULT).map(|c| c.policy);
    let tpm_text = tpm_policy();
    let tpm = Policy::compile(&tpm_text).map(|c| c.policy);
    let (Ok(sgx), Ok(tpm)) = (sgx, tpm) else {
        panic!("benchmark policies must compile");
    };
    let sgx_claims = sgx_claims();
    let tpm_claims = tpm_claims();
    assert!(sgx.evaluate(&sgx_claims).is_ok());
    let out = tpm.evaluate(&tpm_claims).map(|e| e.issued);
    assert!(
        out.as_ref()
            .is_ok_and(|o| o.value("hvciEnabled") == Some(&ClaimValue::Bool(true))),
        "{out:?}"
    );

    c.bench_function("evaluate/sgx_default", |b| {
        b.iter(|| sgx.evaluate(black_box(&sgx_claims)))
    });
    c.bench_function("evaluate/tpm_1_2_jmespath_boot_events", |b| {
        b.iter(|| tpm.evaluate(black_box(&tpm_claims)))
    });
    // One trivial query over `events`: what a JmesPath call costs besides its own work.
    let convert = Policy::compile(
        "version=1.2; authorizationrules { => permit(); }; issuancerules { c:[type==\"events\"] => issue(type=\"n\", value=JmesPath(c.value, \"Events[0].PcrIndex\")); };",
    )
    .map(|c| c.policy)
    .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("evaluate/jmespath_single_lookup", |b| {
        b.iter(|| convert.evaluate(black_box(&tpm_claims)))
    });
    c.bench_function("compile/sgx_default", |b| {
        b.iter(|| Policy::compile(black_box(attestd_policy::defaults::SGX_DEFAULT)))
    });
    c.bench_function("compile/tpm_1_2_jmespath", |b| {
        b.iter(|| Policy::compile(black_box(&tpm_text)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
