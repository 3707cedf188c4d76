//! `attestd verify sgx|oe|tdx|snp|azure-guest` (incoming claims as JSON, or `error: CODE: message` and exit 1) and
//! `attestd collateral import`, run as a process on catalog vectors.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");
const AZ_BUNDLE: &str = "intel-collateral/composed/sgx_00906ED50000_2025-06.json";

fn vector(p: &str) -> String {
    let path: PathBuf = attestd_testkit::vectors_dir().join(p);
    path.to_str().expect("utf-8 path").to_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ATTESTD_ACCEPTED_TCB_STATUSES")
        .env_remove("ATTESTD_INSECURE_TEST_SGX_ROOT")
        .output()
        .expect("run attestd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn claims(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("claims JSON on stdout")
}

#[test]
fn verify_sgx_at_the_catalog_time_prints_the_claims() {
    let quote = vector("azure-sdk/py-sdk-1.0.0/sgx_quote.bin");
    let runtime = vector("azure-sdk/py-sdk-1.0.0/runtime_data.bin");
    let bundle = vector(AZ_BUNDLE);
    let out = run(&[
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &bundle,
        "--runtime-data",
        &runtime,
        "--runtime-data-type",
        "json",
        "--at",
        "2025-06-25T00:00:00Z",
        "--accepted-tcb-statuses",
        "UpToDate,SWHardeningNeeded,OutOfDate",
    ]);
    let c = claims(&out);
    assert_eq!(
        c["x-ms-sgx-mrenclave"],
        "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2"
    );
    assert_eq!(c["x-ms-sgx-tcb-status"], "OutOfDate");
    assert_eq!(c["x-ms-runtime"]["jwk"]["kty"], "EC");
    // Incoming claims: the attestation type and the legacy aliases policies use.
    assert_eq!(c["x-ms-attestation-type"], "sgx");
    assert_eq!(c["$sgx-mrenclave"], c["x-ms-sgx-mrenclave"]);
    assert_eq!(c["$is-debuggable"], false);
    assert_eq!(
        c["x-ms-sgx-collateral"]["quotehash"],
        "af0e05631c145d7dc1a33b214d43c6aa34a7859622a0ac7d880ab7b24e2f18d2"
    );
}

#[test]
fn verify_oe_report_at_the_catalog_time() {
    let report = vector("azure-sdk/cpp-sdk/oe_report_debug.bin");
    let bundle = vector(AZ_BUNDLE);
    let out = run(&[
        "verify",
        "oe",
        &report,
        "--collateral",
        &bundle,
        "--at",
        "2025-06-25T00:00:00Z",
        "--accepted-tcb-statuses",
        "OutOfDate",
    ]);
    let c = claims(&out);
    assert_eq!(c["x-ms-sgx-is-debuggable"], true);
}

#[test]
fn failed_verification_prints_code_and_message_and_exits_1() {
    let quote = vector("sgx-dcap/dcap-qvl/sgx_quote");
    let bundle = vector("sgx-dcap/dcap-qvl/sgx_quote_collateral.json");
    // Expired collateral (SGX-QVL-1n).
    let out = run(&[
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &bundle,
        "--at",
        "2025-07-20T00:00:00Z",
        "--accepted-tcb-statuses",
        "ConfigurationAndSWHardeningNeeded",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no claims on failure");
    let err = text(&out.stderr);
    assert!(err.starts_with("error: CollateralExpired: "), "{err}");
    // The default statuses refuse ConfigurationAndSWHardeningNeeded.
    let out = run(&[
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &bundle,
        "--at",
        "2025-07-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: TcbStatusNotAccepted: ") && err.contains("ConfigurationAndSWHardeningNeeded"),
        "{err}"
    );
    // Collateral for another FMSPC.
    let out = run(&[
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &vector(AZ_BUNDLE),
        "--at",
        "2025-07-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: CollateralNotFound: "),
        "{}",
        text(&out.stderr)
    );
    // Bad arguments are errors too.
    let out = run(&["verify", "sgx", &quote, "--collateral", &bundle, "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("RFC 3339"), "{}", text(&out.stderr));
    let out = run(&[
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &bundle,
        "--accepted-tcb-statuses",
        "Revoked",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Revoked can never be accepted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn collateral_import_stores_bundles_under_their_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    let out = run(&[
        "collateral",
        "import",
        &vector(AZ_BUNDLE),
        &vector("sgx-dcap/dcap-qvl/sgx_quote_collateral.json"),
        "--data-dir",
        &data,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("as dcap/sgx/00906ED50000/processor/"), "{stdout}");
    assert!(stdout.contains("as dcap/sgx/00A067110000/processor/17"), "{stdout}");

    // Not a bundle: refused with the code, nothing stored.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"tcb_info\": 1}").expect("write");
    let out = run(&[
        "collateral",
        "import",
        bad.to_str().expect("utf-8"),
        "--data-dir",
        &data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad.json"), "{}", text(&out.stderr));
}

#[test]
fn verify_tdx_snp_and_azure_guest_print_their_claims() {
    // TDX-QVL-1 with its collateral at the catalog's time.
    let out = run(&[
        "verify",
        "tdx",
        &vector("tdx/dcap-qvl/tdx_quote"),
        "--collateral",
        &vector("tdx/dcap-qvl/tdx_quote_collateral.json"),
        "--at",
        "2025-07-01T00:00:00Z",
    ]);
    let c = claims(&out);
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(
        c["tdx_mrtd"],
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    // TDX-QVL-2: no TCB level matches.
    let out = run(&[
        "verify",
        "tdx",
        &vector("tdx/dcap-qvl/tdx_quote_outdated"),
        "--collateral",
        &vector("tdx/dcap-qvl/tdx_quote_outdated_collateral.json"),
        "--at",
        "2026-03-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: TcbLevelNotSupported: "),
        "{}",
        text(&out.stderr)
    );
    // tdx without collateral is an argument error.
    let out = run(&["verify", "tdx", &vector("tdx/dcap-qvl/tdx_quote")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--collateral"), "{}", text(&out.stderr));

    // SEV-SNP: trustee's Milan report with its VCEK (DER) given by --certs.
    let out = run(&[
        "verify",
        "snp",
        &vector("sev-snp/trustee/test-report.bin"),
        "--certs",
        &vector("sev-snp/trustee/test-vcek.der"),
        "--at",
        "2025-01-01T00:00:00Z",
    ]);
    let c = claims(&out);
    assert_eq!(c["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(c["x-ms-sevsnpvm-launchmeasurement"].as_str().map(str::len), Some(96));
    // Without its VCEK the offline CLI cannot verify it.
    let out = run(&["verify", "snp", &vector("sev-snp/trustee/test-report.bin")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: VcekUnavailable: "),
        "{}",
        text(&out.stderr)
    );

    // Azure CVM guest: MAA's AttestationInfo of AZ-SNP-4.
    let dir = tempfile::tempdir().expect("tmp");
    let info = dir.path().join("attestation-info.json");
    std::fs::write(&info, attestd_testkit::azure::attestation_info().to_string()).expect("write");
    let out = run(&[
        "verify",
        "azure-guest",
        info.to_str().expect("utf-8"),
        "--at",
        "2025-06-01T00:00:00Z",
    ]);
    let c = claims(&out);
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    assert_eq!(c["x-ms-azurevm-vmid"], "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
}

/// PEM of DER certificate files (leaf first), as a PCS issuer-chain header decodes to.
fn pem_chain(ders: &[&str]) -> String {
    ders.iter()
        .map(|p| {
            let der = std::fs::read(vector(p)).expect("certificate");
            let b64 = attestd_token::b64::encode_std(&der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).expect("ascii"))
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        })
        .collect()
}

/// SGX-ADA-1 with its collateral as Intel's PCS serves it (automata's August 2025 files: TCB info
/// and QE identity responses, Platform CA CRL, Root CA CRL, the signer and CA certificates),
/// laid out as a raw-PCS directory: `--collateral DIR` verifies it; a tampered TCB info fails.
#[test]
fn raw_pcs_responses_of_real_intel_collateral_verify_a_real_quote() {
    let a = "intel-collateral/automata-dcap-attestation";
    let dir = tempfile::tempdir().expect("tmp");
    let put = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
    let copy = |name: &str, from: &str| put(name, &std::fs::read(vector(&format!("{a}/{from}"))).expect("read"));
    copy("tcb_info.json", "0825_sgx_tcbinfov3_00606a000000.json");
    copy("qe_identity.json", "0825_sgx_qeidentity_v4.json");
    copy("pck_crl.der", "0825_platform_crl.der");
    copy("root_ca_crl.der", "root_ca_crl_2025-03-20.der");
    let signer = pem_chain(&[&format!("{a}/tcb_signing_2025.der"), &format!("{a}/root_ca.der")]);
    put("tcb_info_issuer_chain.pem", signer.as_bytes());
    let pck_ca = pem_chain(&[&format!("{a}/pck_platform_ca.der"), &format!("{a}/root_ca.der")]);
    put("pck_crl_issuer_chain.pem", pck_ca.as_bytes());
    let quote = vector("sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin");
    let dir_arg = dir.path().to_str().expect("utf-8").to_owned();
    let args = [
        "verify",
        "sgx",
        &quote,
        "--collateral",
        &dir_arg,
        "--at",
        "2025-08-15T05:45:00Z",
    ];
    let c = claims(&run(&args));
    assert_eq!(c["x-ms-sgx-tcb-status"], "SWHardeningNeeded", "{c}");
    assert_eq!(
        c["x-ms-sgx-mrenclave"],
        "a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd"
    );
    // One changed byte in the signed TCB info: its signature no longer verifies.
    let tcb = std::fs::read_to_string(dir.path().join("tcb_info.json")).expect("read");
    put(
        "tcb_info.json",
        tcb.replacen("\"version\":3", "\"version\":4", 1).as_bytes(),
    );
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).starts_with("error: "), "{}", text(&out.stderr));
}
