//! The TDX cases of the shared vector catalog (CATALOG.md section 3) through the TdxVm verifier:
//! MAA's claims with the catalog's values, TCB statuses accepted or refused by the settings, the
//! negatives with their codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_dcap::TrustAnchors;
use attestd_dcap::tcb::{AcceptedStatuses, TcbStatus};
use attestd_evidence::{AttestationType, BoundData, ClaimSet, DataType, Evidence};
use attestd_sgx::{SgxCollateral, StaticCollateral};
use attestd_tdx::{TdxOptions, TdxVerifier};
use serde_json::Value;

fn read(p: &str) -> Vec<u8> {
    let bytes = std::fs::read(attestd_testkit::vectors_dir().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    if p.ends_with(".hex") || p.ends_with("_hex.txt") {
        let text = String::from_utf8(bytes).unwrap();
        let text = text.trim();
        hex::decode(text.strip_prefix("0x").unwrap_or(text)).unwrap()
    } else {
        bytes
    }
}

fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

/// A verifier holding every TDX collateral bundle of the catalog.
fn verifier(accepted: AcceptedStatuses) -> TdxVerifier {
    let source = StaticCollateral::new();
    for bundle in [
        "tdx/dcap-qvl/tdx_quote_collateral.json",
        "tdx/dcap-qvl/tdx_quote_outdated_collateral.json",
        "tdx/dcap-qvl/near_quote_collateral.json",
        "intel-collateral/composed/tdx_00806F050000_2025-06.json",
        "intel-collateral/composed/tdx_50806F000000_2023-06.json",
        "intel-collateral/composed/tdx_00A06D080000_2025-10.json",
    ] {
        source.insert(SgxCollateral::from_json(&read(bundle)).unwrap_or_else(|e| panic!("{bundle}: {e}")));
    }
    TdxVerifier::new(TrustAnchors::intel(), Arc::new(source)).with_options(TdxOptions {
        accepted_statuses: accepted,
    })
}

fn evidence(quote: Vec<u8>) -> Evidence {
    Evidence {
        attestation_type: AttestationType::TdxVm,
        bytes: quote,
        runtime_data: None,
        init_time_data: None,
    }
}

async fn appraise(v: &TdxVerifier, e: &Evidence, time: &str) -> Result<serde_json::Map<String, Value>, String> {
    v.appraise(e, &ClaimSet::new(), at(time))
        .await
        .map(|a| a.token_claims.into_iter().collect())
        .map_err(|e| e.code.to_string())
}

#[tokio::test]
async fn tdx_tr_1_claims_match_trustees_parse() {
    let v = verifier(AcceptedStatuses::default());
    let c = appraise(
        &v,
        &evidence(read("tdx/trustee/tdx_quote_4.dat")),
        "2023-07-01T01:00:00Z",
    )
    .await
    .unwrap();
    let expected: Value = serde_json::from_slice(&read("tdx/trustee/parse_tdx_claims_expected.json")).unwrap();
    let body = &expected["quote"]["body"];
    for (claim, field) in [
        ("tdx_mrconfigid", "mr_config_id"),
        ("tdx_mrowner", "mr_owner"),
        ("tdx_mrownerconfig", "mr_owner_config"),
        ("tdx_mrseam", "mr_seam"),
        ("tdx_mrtd", "mr_td"),
        ("tdx_mrsignerseam", "mrsigner_seam"),
        ("tdx_report_data", "report_data"),
        ("tdx_rtmr0", "rtmr_0"),
        ("tdx_rtmr1", "rtmr_1"),
        ("tdx_rtmr2", "rtmr_2"),
        ("tdx_rtmr3", "rtmr_3"),
        ("tdx_seam_attributes", "seam_attributes"),
        ("tdx_tee_tcb_svn", "tcb_svn"),
        ("tdx_td_attributes", "td_attributes"),
        ("tdx_xfam", "xfam"),
    ] {
        assert_eq!(c[claim], body[field], "{claim}");
    }
    for flag in ["debug", "key_locker", "perfmon", "protection_keys", "septve_disable"] {
        assert_eq!(
            c[&format!("tdx_td_attributes_{flag}")],
            expected["td_attributes"][flag],
            "{flag}"
        );
    }
    assert_eq!(c["dbgstat"], "enabled");
    assert_eq!(c["tdx_seamsvn"], 3);
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(c["eat_profile"], "https://aka.ms/maa-eat-profile-tdxvm");
    assert_eq!(c["intuse"], "generic");
}

#[tokio::test]
async fn tdx_qvl_1_and_3_are_up_to_date() {
    let v = verifier(AcceptedStatuses::default());
    let c = appraise(&v, &evidence(read("tdx/dcap-qvl/tdx_quote")), "2025-07-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(
        c["tdx_mrtd"],
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    assert_eq!(
        c["tdx_mrseam"],
        "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1"
    );
    assert_eq!(
        c["tdx_rtmr0"],
        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"
    );
    assert_eq!(c["tdx_td_attributes"], "0000001000000000");
    assert_eq!(c["tdx_td_attributes_debug"], false);
    assert_eq!(c["tdx_td_attributes_septve_disable"], true);
    assert_eq!(c["tdx_xfam"], "e702060000000000");
    assert_eq!(c["attester_advisory_ids"], serde_json::json!([]));
    let c = appraise(
        &v,
        &evidence(read("tdx/dcap-qvl/near_quote_hex.txt")),
        "2025-09-15T00:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(c["attester_tcb_status"], "UpToDate");
}

#[tokio::test]
async fn out_of_date_platforms_are_refused_by_default_and_reported_when_accepted() {
    let quote = read("tdx/dcap-rs/quote_tdx_00806f050000.dat");
    let refused = appraise(
        &verifier(AcceptedStatuses::default()),
        &evidence(quote.clone()),
        "2025-06-05T03:45:00Z",
    )
    .await;
    assert_eq!(refused.unwrap_err(), "TcbStatusNotAccepted");
    let all = AcceptedStatuses::default().with(TcbStatus::OutOfDate);
    let c = appraise(&verifier(all), &evidence(quote), "2025-06-05T03:45:00Z")
        .await
        .unwrap();
    assert_eq!(c["attester_tcb_status"], "OutOfDate");
    assert_eq!(
        c["attester_advisory_ids"],
        serde_json::json!(["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"])
    );
    assert_eq!(
        c["tdx_mrtd"],
        "935be7742dd89c6a4df6dba8353d89041ae0f052beef993b1e7f4524d3bc57650df20e5582158352e1240b3f1fed55d8"
    );
    // TDX-TR-3 is OutOfDate as well.
    let all = AcceptedStatuses::default().with(TcbStatus::OutOfDate);
    let c = appraise(
        &verifier(all),
        &evidence(read("tdx/trustee/tdx_quote_6.dat")),
        "2025-11-01T00:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(c["attester_tcb_status"], "OutOfDate");
}

#[tokio::test]
async fn negatives_have_their_codes() {
    let v = verifier(AcceptedStatuses::all_but_revoked());
    // TDX-QVL-2: no TCB level matches; never OutOfDate.
    let e = evidence(read("tdx/dcap-qvl/tdx_quote_outdated"));
    assert_eq!(
        appraise(&v, &e, "2026-03-01T00:00:00Z").await.unwrap_err(),
        "TcbLevelNotSupported"
    );
    // Expired collateral.
    let e = evidence(read("tdx/dcap-qvl/tdx_quote"));
    assert_eq!(
        appraise(&v, &e, "2025-08-01T00:00:00Z").await.unwrap_err(),
        "CollateralExpired"
    );
    // A platform for which nothing is held.
    let empty = TdxVerifier::new(TrustAnchors::intel(), Arc::new(StaticCollateral::new()));
    let e = evidence(read("tdx/automata-dcap-attestation/alibaba_quote_5.dat"));
    assert_eq!(
        appraise(&empty, &e, "2025-06-15T00:00:00Z").await.unwrap_err(),
        "CollateralNotFound"
    );
    // The 2026 collateral of that platform is not valid yet in 2025.
    assert_eq!(
        appraise(&v, &e, "2025-06-15T00:00:00Z").await.unwrap_err(),
        "CollateralNotYetValid"
    );
    // An SGX quote.
    let e = evidence(read("sgx-dcap/dcap-qvl/sgx_quote"));
    assert_eq!(
        appraise(&v, &e, "2025-07-01T00:00:00Z").await.unwrap_err(),
        "NotATdxQuote"
    );
    // A flipped bit in the TD report (MRTD): the quote signature fails.
    let mut q = read("tdx/dcap-qvl/tdx_quote");
    q[48 + 136] ^= 1;
    assert_eq!(
        appraise(&v, &evidence(q), "2025-07-01T00:00:00Z").await.unwrap_err(),
        "QuoteSignatureInvalid"
    );
    // Non-zero bytes in the padding after the signature data.
    let mut q = read("tdx/dcap-qvl/tdx_quote");
    let last = q.len() - 1;
    q[last] = 1;
    assert_eq!(
        appraise(&v, &evidence(q), "2025-07-01T00:00:00Z").await.unwrap_err(),
        "QuoteTrailingData"
    );
    // Runtime data the report does not bind.
    let mut e = evidence(read("tdx/dcap-qvl/tdx_quote"));
    e.runtime_data = Some(BoundData {
        bytes: b"{}".to_vec(),
        data_type: DataType::Json,
    });
    assert_eq!(
        appraise(&v, &e, "2025-07-01T00:00:00Z").await.unwrap_err(),
        "RuntimeDataMismatch"
    );
    e.runtime_data = None;
    e.init_time_data = Some(BoundData {
        bytes: b"init".to_vec(),
        data_type: DataType::Binary,
    });
    assert_eq!(
        appraise(&v, &e, "2025-07-01T00:00:00Z").await.unwrap_err(),
        "InitTimeDataMismatch"
    );
}
