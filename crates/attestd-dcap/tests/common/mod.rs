//! Loading the catalog's quotes and collateral (shared by the catalog and differential tests).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::SystemTime;

use attestd_dcap::{Collateral, CollateralParts};

pub fn path(p: &str) -> PathBuf {
    attestd_testkit::vectors_dir().join(p)
}

pub fn read(p: &str) -> Vec<u8> {
    let bytes = std::fs::read(path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    if p.ends_with(".hex") || p.ends_with("_hex.txt") {
        let text = String::from_utf8(bytes).unwrap();
        let text = text.trim();
        hex::decode(text.strip_prefix("0x").unwrap_or(text)).unwrap()
    } else {
        bytes
    }
}

pub fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

pub fn bundle(name: &str) -> Collateral {
    Collateral::from_json(&read(&format!("intel-collateral/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn concat(files: &[&str]) -> Vec<u8> {
    files.iter().flat_map(|f| read(f)).collect()
}

/// The dcap-rs collateral of February 2025 (SGX or TDX TCB info).
pub fn dcap_rs(tcb_info: &str, qe_identity: &str) -> Collateral {
    let d = "intel-collateral/dcap-rs/";
    let tcb_info = read(&format!("{d}{tcb_info}"));
    let qe_identity = read(&format!("{d}{qe_identity}"));
    let signer = read(&format!("{d}tcb_signing_cert.pem"));
    let pck_crl = read(&format!("{d}pck_platform_crl.der"));
    let root_crl = read(&format!("{d}intel_root_ca_crl.der"));
    let pck_ca = concat(&[
        "intel-collateral/automata-dcap-attestation/pck_platform_ca.der",
        "roots/Intel_SGX_RootCA.der",
    ]);
    Collateral::from_parts(CollateralParts {
        tcb_info: &tcb_info,
        tcb_info_issuer_chain: &signer,
        qe_identity: &qe_identity,
        qe_identity_issuer_chain: &signer,
        pck_crl: &pck_crl,
        pck_crl_issuer_chain: &pck_ca,
        root_ca_crl: &root_crl,
    })
    .unwrap()
}

/// Automata's June 2025 files for the TDX 1.5 platform 90C06F000000.
pub fn automata_0625_tdx_90c06f() -> Collateral {
    let d = "intel-collateral/automata-dcap-attestation/";
    let tcb_info = read(&format!("{d}0625_tcbinfov3_90C06F000000.json"));
    let qe_identity = read(&format!("{d}0625_qe_td.json"));
    let signer = concat(&[&format!("{d}tcb_signing_2025.der"), &format!("{d}root_ca.der")]);
    let pck_crl = read(&format!("{d}0625_platform_crl.der"));
    let root_crl = read(&format!("{d}root_ca_crl_2025-03-20.der"));
    let pck_ca = concat(&[&format!("{d}pck_platform_ca.der"), &format!("{d}root_ca.der")]);
    Collateral::from_parts(CollateralParts {
        tcb_info: &tcb_info,
        tcb_info_issuer_chain: &signer,
        qe_identity: &qe_identity,
        qe_identity_issuer_chain: &signer,
        pck_crl: &pck_crl,
        pck_crl_issuer_chain: &pck_ca,
        root_ca_crl: &root_crl,
    })
    .unwrap()
}

/// The `evidence` and `endorsements` of a microsoft/ravl `.att` file.
pub fn ravl(file: &str) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine;
    let j: serde_json::Value = serde_json::from_slice(&read(&format!("sgx-dcap/ravl/{file}"))).unwrap();
    let b64 = |k: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(j[k].as_str().unwrap())
            .unwrap()
    };
    (b64("evidence"), b64("endorsements"))
}

/// One catalog case: a quote, its collateral and the verification time.
pub struct Case {
    /// The catalog id.
    pub id: &'static str,
    /// The quote bytes.
    pub quote: Vec<u8>,
    /// The collateral.
    pub collateral: Collateral,
    /// The verification time.
    pub time: SystemTime,
}

/// Every SGX and TDX quote of the catalog with the collateral and time the catalog gives
/// (positives and negatives).
pub fn cases() -> Vec<Case> {
    let case = |id: &'static str, quote: &str, collateral: Collateral, time: &str| Case {
        id,
        quote: read(quote),
        collateral,
        time: at(time),
    };
    let qvl = |f: &str| Collateral::from_json(&read(f)).unwrap();
    let mut out = vec![
        case(
            "SGX-QVL-1",
            "sgx-dcap/dcap-qvl/sgx_quote",
            qvl("sgx-dcap/dcap-qvl/sgx_quote_collateral.json"),
            "2025-07-01T00:00:00Z",
        ),
        case(
            "SGX-QVL-1n",
            "sgx-dcap/dcap-qvl/sgx_quote",
            qvl("sgx-dcap/dcap-qvl/sgx_quote_collateral.json"),
            "2025-07-20T00:00:00Z",
        ),
        case(
            "SGX-ADA-1",
            "sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin",
            bundle("composed/sgx_00606A000000_2025-08.json"),
            "2025-08-15T05:45:00Z",
        ),
        case(
            "SGX-RS-1",
            "sgx-dcap/dcap-rs/sgx_v3_quote.hex",
            dcap_rs("tcbinfov2.json", "qeidentityv2.json"),
            "2025-02-13T04:00:32Z",
        ),
        case(
            "SGX-RS-1n",
            "sgx-dcap/dcap-rs/sgx_v3_quote.hex",
            dcap_rs("tcbinfov2.json", "qeidentityv2.json"),
            "2025-06-01T00:00:00Z",
        ),
        case(
            "SGX-TR-1",
            "sgx-dcap/trustee/occlum_quote.dat",
            bundle("composed/sgx_00606A000000_2025-08.json"),
            "2025-08-20T00:00:00Z",
        ),
        case(
            "SGX-AZ-1",
            "azure-sdk/py-sdk-1.0.0/sgx_quote.bin",
            bundle("composed/sgx_00906ED50000_2025-06.json"),
            "2025-06-25T00:00:00Z",
        ),
        case(
            "SGX-AZ-2",
            "azure-sdk/cpp-sdk/sgx_quote_debug.bin",
            bundle("composed/sgx_00906ED50000_2025-06.json"),
            "2025-06-25T00:00:00Z",
        ),
        case(
            "SGX-AZ-3",
            "azure-sdk/cpp-sdk/sgx_quote_nondebug.bin",
            bundle("composed/sgx_00906ED50000_2025-06.json"),
            "2025-06-25T00:00:00Z",
        ),
        case(
            "TDX-QVL-1",
            "tdx/dcap-qvl/tdx_quote",
            qvl("tdx/dcap-qvl/tdx_quote_collateral.json"),
            "2025-07-01T00:00:00Z",
        ),
        case(
            "TDX-QVL-2",
            "tdx/dcap-qvl/tdx_quote_outdated",
            qvl("tdx/dcap-qvl/tdx_quote_outdated_collateral.json"),
            "2026-03-01T00:00:00Z",
        ),
        case(
            "TDX-QVL-3",
            "tdx/dcap-qvl/near_quote_hex.txt",
            qvl("tdx/dcap-qvl/near_quote_collateral.json"),
            "2025-09-15T00:00:00Z",
        ),
        case(
            "TDX-QVL-4",
            "tdx/dcap-qvl/quote-from-tappd.hex",
            qvl("tdx/dcap-qvl/tdx_quote_collateral.json"),
            "2025-07-01T00:00:00Z",
        ),
        case(
            "TDX-QVL-5",
            "tdx/dcap-qvl/tdx-quote.hex",
            qvl("tdx/dcap-qvl/tdx_quote_collateral.json"),
            "2025-07-01T00:00:00Z",
        ),
        case(
            "TDX-ADA-1",
            "tdx/dcap-rs/quote_tdx_00806f050000.dat",
            bundle("composed/tdx_00806F050000_2025-06.json"),
            "2025-06-05T03:45:00Z",
        ),
        case(
            "TDX-RS-1",
            "tdx/dcap-rs/quote_tdx_00806f050000.dat",
            dcap_rs("tcbinfov3_00806f050000.json", "qeidentityv2_apiv4.json"),
            "2025-02-14T00:00:00Z",
        ),
        case(
            "TDX-ADA-2",
            "tdx/automata-dcap-attestation/alibaba_quote_5.dat",
            automata_0625_tdx_90c06f(),
            "2025-06-15T00:00:00Z",
        ),
        case(
            "TDX-ADA-2n",
            "tdx/automata-dcap-attestation/alibaba_quote_5.dat",
            automata_0625_tdx_90c06f(),
            "2025-06-14T00:00:00Z",
        ),
        case(
            "TDX-TR-1",
            "tdx/trustee/tdx_quote_4.dat",
            bundle("composed/tdx_50806F000000_2023-06.json"),
            "2023-07-01T01:00:00Z",
        ),
        case(
            "TDX-TR-2",
            "tdx/trustee/tdx_quote_5.dat",
            bundle("composed/tdx_90C06F000000_2026-02.json"),
            "2026-02-25T00:00:00Z",
        ),
        case(
            "TDX-TR-3",
            "tdx/trustee/tdx_quote_6.dat",
            bundle("composed/tdx_00A06D080000_2025-10.json"),
            "2025-11-01T00:00:00Z",
        ),
    ];
    for (id, file, b, time) in [
        (
            "SGX-RAVL-1c",
            "sgx.coffeelake.att",
            "composed/sgx_00906ED50000_2025-06.json",
            "2025-06-25T00:00:00Z",
        ),
        (
            "SGX-RAVL-2c",
            "sgx.icelake.att",
            "composed/sgx_00606A000000_2025-08.json",
            "2025-08-20T00:00:00Z",
        ),
    ] {
        let (quote, _) = ravl(file);
        out.push(Case {
            id,
            quote,
            collateral: bundle(b),
            time: at(time),
        });
    }
    for (id, file) in [("SGX-RAVL-1", "sgx.coffeelake.att"), ("SGX-RAVL-2", "sgx.icelake.att")] {
        let (quote, endorsements) = ravl(file);
        let collateral = Collateral::from_qve_be_bytes(&endorsements).unwrap();
        out.push(Case {
            id,
            quote,
            collateral,
            time: at("2022-08-30T00:00:00Z"),
        });
    }
    out
}
