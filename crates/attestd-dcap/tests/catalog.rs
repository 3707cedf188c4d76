//! Every SGX and TDX quote case of the shared vector catalog (CATALOG.md sections 2 and 3),
//! verified against the bundled Intel SGX Root CA at the catalog's time, with the catalog's
//! status, advisories and identifiers; the negatives fail with their own codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use attestd_dcap::quote::Quote;
use attestd_dcap::tcb::TcbStatus;
use attestd_dcap::{Collateral, PckCa, QuoteVerifier, TrustAnchors, Verified};

mod common;
use common::*;

fn verify(quote: &[u8], collateral: &Collateral, time: &str) -> Result<Verified, attestd_dcap::DcapError> {
    let quote = Quote::parse(quote).unwrap();
    QuoteVerifier::new(TrustAnchors::intel()).verify(&quote, collateral, at(time))
}

fn ok(case: &str, quote: &[u8], collateral: &Collateral, time: &str) -> Verified {
    verify(quote, collateral, time).unwrap_or_else(|e| panic!("{case}: {} {e}", e.code()))
}

fn fails(case: &str, quote: &[u8], collateral: &Collateral, time: &str, codes: &[&str]) {
    match verify(quote, collateral, time) {
        Ok(v) => panic!("{case}: verified ({:?}) but must fail with {codes:?}", v.status),
        Err(e) => assert!(
            codes.contains(&e.code()),
            "{case}: failed with {} ({e}), expected {codes:?}",
            e.code()
        ),
    }
}

fn advisories(v: &Verified) -> Vec<&str> {
    v.advisory_ids.iter().map(String::as_str).collect()
}

#[test]
fn sgx_qvl_1_configuration_and_sw_hardening_needed() {
    let q = read("sgx-dcap/dcap-qvl/sgx_quote");
    let c = Collateral::from_json(&read("sgx-dcap/dcap-qvl/sgx_quote_collateral.json")).unwrap();
    let v = ok("SGX-QVL-1", &q, &c, "2025-07-01T00:00:00Z");
    assert_eq!(v.status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    assert_eq!(advisories(&v), ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert_eq!(hex::encode_upper(v.fmspc), "00A067110000");
    assert_eq!(v.pck_ca, PckCa::Processor);
    assert_eq!(v.pce_svn, 13);
    assert_eq!(hex::encode(v.cpu_svn), "0b0b0202ff0100000000000000000000");
    assert_eq!(v.qe_status, TcbStatus::UpToDate);
    assert!(v.tcb_date.starts_with("2024-03-13"), "{}", v.tcb_date);
    assert_eq!(v.tcb_evaluation_data_number, 17);
    // SGX-QVL-1n: the same quote once the QE identity and TCB info have expired.
    fails("SGX-QVL-1n", &q, &c, "2025-07-20T00:00:00Z", &["CollateralExpired"]);
}

#[test]
fn sgx_ada_1_sw_hardening_needed() {
    let q = read("sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin");
    let v = ok(
        "SGX-ADA-1",
        &q,
        &bundle("composed/sgx_00606A000000_2025-08.json"),
        "2025-08-15T05:45:00Z",
    );
    assert_eq!(v.status, TcbStatus::SWHardeningNeeded);
    assert_eq!(advisories(&v), ["INTEL-SA-00615"]);
    assert_eq!(hex::encode_upper(v.fmspc), "00606A000000");
    assert_eq!(v.pck_ca, PckCa::Platform);
}

#[test]
fn sgx_rs_1_out_of_date_with_tcb_info_v2() {
    let q = read("sgx-dcap/dcap-rs/sgx_v3_quote.hex");
    let c = dcap_rs("tcbinfov2.json", "qeidentityv2.json");
    let v = ok("SGX-RS-1", &q, &c, "2025-02-13T04:00:32Z");
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert!(
        v.advisory_ids.is_empty(),
        "TCB info v2 has no advisories: {:?}",
        v.advisory_ids
    );
    assert_eq!(v.pce_svn, 13);
    assert_eq!(&v.cpu_svn[..7], &[0x0c, 0x0c, 0x03, 0x03, 0xff, 0xff, 0x01]);
    // SGX-RS-1n: the old TCB signing certificate expired 2025-05-21, the collateral earlier.
    fails(
        "SGX-RS-1n",
        &q,
        &c,
        "2025-06-01T00:00:00Z",
        &["CollateralExpired", "CollateralCertExpired"],
    );
}

#[test]
fn sgx_tr_1_out_of_date_with_both_collaterals() {
    let q = read("sgx-dcap/trustee/occlum_quote.dat");
    let v = ok(
        "SGX-TR-1",
        &q,
        &bundle("composed/sgx_00606A000000_2025-08.json"),
        "2025-08-20T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert_eq!(
        advisories(&v),
        [
            "INTEL-SA-00586",
            "INTEL-SA-00614",
            "INTEL-SA-00615",
            "INTEL-SA-00657",
            "INTEL-SA-00730",
            "INTEL-SA-00738",
            "INTEL-SA-00767",
            "INTEL-SA-00828",
            "INTEL-SA-00837",
            "INTEL-SA-00960"
        ]
    );
    assert_eq!(v.pce_svn, 11);
    let v = ok(
        "SGX-TR-1 (Feb 2025)",
        &q,
        &dcap_rs("tcbinfov2.json", "qeidentityv2.json"),
        "2025-02-14T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
}

#[test]
fn sgx_ravl_stale_azure_collateral_is_rejected_at_every_time() {
    for file in ["sgx.coffeelake.att", "sgx.icelake.att"] {
        let (quote, endorsements) = ravl(file);
        let c = Collateral::from_qve_be_bytes(&endorsements).unwrap();
        // Before the CRLs were issued they are not yet valid; after, the TCB info has expired
        // (and from 2025-05-21 its old signing certificate too).
        for time in ["2021-04-01T00:00:00Z", "2022-08-30T00:00:00Z", "2025-06-25T00:00:00Z"] {
            fails(
                file,
                &quote,
                &c,
                time,
                &["CollateralExpired", "CollateralNotYetValid", "CollateralCertExpired"],
            );
        }
    }
}

#[test]
fn sgx_ravl_quotes_with_current_collateral_are_out_of_date() {
    for (file, bundle_name, time, ca) in [
        (
            "sgx.coffeelake.att",
            "composed/sgx_00906ED50000_2025-06.json",
            "2025-06-25T00:00:00Z",
            PckCa::Processor,
        ),
        (
            "sgx.icelake.att",
            "composed/sgx_00606A000000_2025-08.json",
            "2025-08-20T00:00:00Z",
            PckCa::Platform,
        ),
    ] {
        let (quote, _) = ravl(file);
        let v = ok(file, &quote, &bundle(bundle_name), time);
        assert_eq!(v.status, TcbStatus::OutOfDate, "{file}");
        assert_eq!(v.pck_ca, ca, "{file}");
    }
}

#[test]
fn sgx_az_sdk_quotes_with_the_2033_root_encoding_are_out_of_date() {
    let c = bundle("composed/sgx_00906ED50000_2025-06.json");
    for file in [
        "azure-sdk/py-sdk-1.0.0/sgx_quote.bin",
        "azure-sdk/cpp-sdk/sgx_quote_debug.bin",
        "azure-sdk/cpp-sdk/sgx_quote_nondebug.bin",
    ] {
        let q = read(file);
        let parsed = Quote::parse(&q).unwrap();
        // These quotes carry the 2018..2033 encoding of the root: trusted by key, not by hash.
        let chain = parsed.pck_chain().unwrap();
        let root = chain.last().unwrap();
        assert_ne!(root.as_slice(), read("roots/Intel_SGX_RootCA.der").as_slice(), "{file}");
        let v = ok(file, &q, &c, "2025-06-25T00:00:00Z");
        assert_eq!(v.status, TcbStatus::OutOfDate, "{file}");
        assert_eq!(v.qe_status, TcbStatus::OutOfDate, "{file}");
        assert_eq!(hex::encode_upper(v.fmspc), "00906ED50000");
    }
}

#[test]
fn tdx_qvl_1_up_to_date() {
    let q = read("tdx/dcap-qvl/tdx_quote");
    let v = ok(
        "TDX-QVL-1",
        &q,
        &Collateral::from_json(&read("tdx/dcap-qvl/tdx_quote_collateral.json")).unwrap(),
        "2025-07-01T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    assert_eq!(hex::encode_upper(v.fmspc), "B0C06F000000");
    assert_eq!(v.pck_ca, PckCa::Platform);
    assert_eq!(v.pce_svn, 11);
}

#[test]
fn tdx_without_a_matching_level_is_not_supported_never_out_of_date() {
    let qvl1 = Collateral::from_json(&read("tdx/dcap-qvl/tdx_quote_collateral.json")).unwrap();
    let outdated = Collateral::from_json(&read("tdx/dcap-qvl/tdx_quote_outdated_collateral.json")).unwrap();
    let feb26 = bundle("composed/tdx_90C06F000000_2026-02.json");
    let nope = &["TcbLevelNotSupported"];
    fails(
        "TDX-QVL-2",
        &read("tdx/dcap-qvl/tdx_quote_outdated"),
        &outdated,
        "2026-03-01T00:00:00Z",
        nope,
    );
    fails(
        "TDX-QVL-4",
        &read("tdx/dcap-qvl/quote-from-tappd.hex"),
        &qvl1,
        "2025-07-01T00:00:00Z",
        nope,
    );
    fails(
        "TDX-QVL-5",
        &read("tdx/dcap-qvl/tdx-quote.hex"),
        &qvl1,
        "2025-07-01T00:00:00Z",
        nope,
    );
    fails(
        "TDX-TR-2",
        &read("tdx/trustee/tdx_quote_5.dat"),
        &feb26,
        "2026-02-25T00:00:00Z",
        nope,
    );
}

#[test]
fn tdx_qvl_3_near_up_to_date() {
    let q = read("tdx/dcap-qvl/near_quote_hex.txt");
    let c = Collateral::from_json(&read("tdx/dcap-qvl/near_quote_collateral.json")).unwrap();
    let v = ok("TDX-QVL-3", &q, &c, "2025-09-15T00:00:00Z");
    assert_eq!(v.status, TcbStatus::UpToDate);
    assert_eq!(v.platform_status, TcbStatus::UpToDate);
    assert_eq!(v.qe_status, TcbStatus::UpToDate);
    assert_eq!(hex::encode_upper(v.fmspc), "20A06F000000");
}

#[test]
fn tdx_ada_1_and_rs_1_out_of_date() {
    let q = read("tdx/dcap-rs/quote_tdx_00806f050000.dat");
    let expected = ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"];
    let v = ok(
        "TDX-ADA-1",
        &q,
        &bundle("composed/tdx_00806F050000_2025-06.json"),
        "2025-06-05T03:45:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert_eq!(advisories(&v), expected);
    assert_eq!(v.tdx_module_status, Some(TcbStatus::UpToDate));
    assert_eq!(v.qe_status, TcbStatus::UpToDate);
    assert_eq!(hex::encode_upper(v.fmspc), "00806F050000");
    let v = ok(
        "TDX-RS-1",
        &q,
        &dcap_rs("tcbinfov3_00806f050000.json", "qeidentityv2_apiv4.json"),
        "2025-02-14T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert_eq!(advisories(&v), expected);
}

#[test]
fn tdx_ada_2_td15_up_to_date_then_out_of_date() {
    let q = read("tdx/automata-dcap-attestation/alibaba_quote_5.dat");
    let june = automata_0625_tdx_90c06f();
    let v = ok("TDX-ADA-2", &q, &june, "2025-06-15T00:00:00Z");
    assert_eq!(v.status, TcbStatus::UpToDate);
    // TDX-ADA-2n: the PCK certificate was issued 2025-06-14T16:04:26Z.
    fails("TDX-ADA-2n", &q, &june, "2025-06-14T00:00:00Z", &["PckCertNotYetValid"]);
    let v = ok(
        "TDX-ADA-2 (Feb 2026)",
        &q,
        &bundle("composed/tdx_90C06F000000_2026-02.json"),
        "2026-02-25T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert_eq!(v.tdx_module_status, Some(TcbStatus::OutOfDate));
    assert_eq!(
        advisories(&v),
        [
            "INTEL-SA-01036",
            "INTEL-SA-01079",
            "INTEL-SA-01099",
            "INTEL-SA-01103",
            "INTEL-SA-01111"
        ]
    );
}

#[test]
fn tdx_tr_1_and_3() {
    let v = ok(
        "TDX-TR-1",
        &read("tdx/trustee/tdx_quote_4.dat"),
        &bundle("composed/tdx_50806F000000_2023-06.json"),
        "2023-07-01T01:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::UpToDate);
    assert_eq!(hex::encode_upper(v.fmspc), "50806F000000");
    let v = ok(
        "TDX-TR-3",
        &read("tdx/trustee/tdx_quote_6.dat"),
        &bundle("composed/tdx_00A06D080000_2025-10.json"),
        "2025-11-01T00:00:00Z",
    );
    assert_eq!(v.status, TcbStatus::OutOfDate);
    assert_eq!(hex::encode_upper(v.fmspc), "00A06D080000");
}

#[test]
fn a_quote_is_not_verified_by_an_unrelated_root() {
    // Trusting only a test root must make the real chains fail: the anchors really are used.
    let q = read("sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin");
    let quote = Quote::parse(&q).unwrap();
    let other = read("roots/aws_nitro_enclaves_root_G1.derived.der");
    let err = QuoteVerifier::new(TrustAnchors::insecure_test_roots(vec![other]))
        .verify(
            &quote,
            &bundle("composed/sgx_00606A000000_2025-08.json"),
            at("2025-08-15T05:45:00Z"),
        )
        .unwrap_err();
    assert!(
        ["CollateralChainInvalid", "CrlSignatureInvalid", "PckChainInvalid"].contains(&err.code()),
        "{}",
        err.code()
    );
}
