//! `POST /attest/AzureGuest` over HTTPS with MAA's request (`{"AttestationInfo":
//! base64url(JSON)}`) built from real Azure CVM evidence (AZ-SNP-4): the token verifies against
//! `/certs` with MAA's `azurevm` claims; a wrong nonce, an uncertified encryption key and a
//! denying draft policy give a 400 with their code and no token. A TDX CVM guest (the testkit's
//! software guest, its TD quote from the DCAP test CA trusted with `--insecure-test-sgx-root`,
//! collateral imported with `attestd collateral import`) gets a sealed `azurevm` token with
//! `tdxvm` claims; each broken link is a 400 with its code, missing collateral a 503; `attestd
//! verify azure-guest --collateral` verifies the same document offline.

mod common;
use std::path::Path;

use attestd_testkit::TestServer;
use attestd_testkit::azure::{TDX_VM_ID, TdxGuest, attestation_info, b64, tpm2b_public};
use attestd_testkit::dcap::{Break, TestCa};
use attestd_token::b64 as jose_b64;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

async fn attest(server: &TestServer, info: &Value, draft: Option<&str>) -> (u16, Value) {
    let mut body = json!({"AttestationInfo": jose_b64::encode_url(info.to_string().as_bytes())});
    if let Some(policy) = draft {
        body["draftPolicyForAttestation"] = json!(policy);
    }
    let r = server
        .client()
        .post(format!("{}/attest/AzureGuest?api-version=2020-10-01", server.url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_azure_cvm_gets_an_azurevm_token() {
    let server = TestServer::start(Path::new(BIN), &["--offline"]);
    let info = attestation_info();
    let (status, body) = attest(&server, &info, None).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    let v = common::verify_against_certs(&server, token).await;
    let c = &v.claims;
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    assert_eq!(c["x-ms-isolation-tee"]["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(c["x-ms-azurevm-vmid"], "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
    assert_eq!(c["x-ms-azurevm-ostype"], "Linux");
    assert_eq!(c["x-ms-runtime"]["client-payload"]["nonce"], b64(b"challenge"));

    // The quote answers another nonce.
    let mut wrong = info.clone();
    wrong["ClientPayload"]["nonce"] = json!(b64(b"another"));
    let (status, body) = attest(&server, &wrong, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VtpmQuoteNonceMismatch")),
        "{body}"
    );
    assert!(body.get("token").is_none());

    // An encryption key the attestation key did not certify.
    let mut uncertified = info.clone();
    uncertified["TpmInfo"]["EncKeyPub"] = json!(b64(&tpm2b_public(&[0xab; 256])));
    uncertified["TpmInfo"]["EncKeyCertifyInfo"] = json!(b64(b"not a certify structure"));
    uncertified["TpmInfo"]["EncKeyCertifyInfoSignature"] = json!(b64(&[1u8; 256]));
    let (status, body) = attest(&server, &uncertified, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("EncKeyCertificationInvalid")),
        "{body}"
    );

    // A draft policy that requires secure boot off denies this VM.
    let deny = r#"version=1.0; authorizationrules { [type=="secureboot", value==false] => permit(); };"#;
    let (status, body) = attest(&server, &info, Some(deny)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PolicyEvaluationError")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_azure_tdx_cvm_gets_a_sealed_azurevm_token_with_tdxvm_claims() {
    let ca = TestCa::new();
    let good = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 1, 0], None);
    let out_of_date = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 1, 1], Some(Break::OutOfDate));
    let not_imported = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 1, 2], None);
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).expect("root");
    let root = root.to_str().expect("utf-8");
    let server = TestServer::start(Path::new(BIN), &["--offline", "--insecure-test-sgx-root", root]);
    let mut bundles = Vec::new();
    for (i, p) in [&good, &out_of_date].iter().enumerate() {
        let f = dir.path().join(format!("tdx-{i}.json"));
        std::fs::write(&f, &p.bundle).expect("bundle");
        bundles.push(f.to_str().expect("utf-8").to_owned());
    }
    server.run_cli(&["collateral", "import", &bundles[0], &bundles[1]]);

    let guest = TdxGuest::new();
    let nonce = b"tdx-https-nonce";
    let quote = good.td_quote(&guest.td);
    let mut info = guest.attestation_info(&quote, nonce);
    info["IsolationInfo"]["Evidence"]["HclReport"] = json!(b64(&guest.hcl_report()));
    let (status, body) = attest(&server, &info, None).await;
    assert_eq!(status, 200, "{body}");
    // Sealed to the certified encryption key: only the guest's key opens it.
    let jwt = guest.open_sealed(body["token"].as_str().expect("token"));
    let v = common::verify_against_certs(&server, &jwt).await;
    let c = &v.claims;
    assert_eq!(c["x-ms-attestation-type"], "azurevm");
    let tee = &c["x-ms-isolation-tee"];
    assert_eq!(tee["x-ms-attestation-type"], "tdxvm");
    assert_eq!(tee["tdx_mrtd"], hex::encode([0x7d; 48]));
    assert_eq!(tee["attester_tcb_status"], "UpToDate");
    assert_eq!(tee["x-ms-runtime"]["vm-configuration"]["vmUniqueId"], TDX_VM_ID);
    assert_eq!(c["x-ms-azurevm-vmid"], TDX_VM_ID);
    assert_eq!(c["x-ms-runtime"]["client-payload"]["nonce"], b64(nonce));

    let other = TdxGuest::new();
    let mut tampered = quote.clone();
    tampered[48 + 136] ^= 1; // MRTD, after signing
    let mut rtmr = TdxGuest::new();
    rtmr.runtime_data = guest.runtime_data.clone();
    rtmr.td = guest.td.clone();
    rtmr.td.rtmr[3] = [0x44; 48];
    let set = |path: &[&str], value: Value| {
        let mut d = info.clone();
        let mut at = &mut d;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        d
    };
    let cases = [
        (
            set(
                &["IsolationInfo", "Evidence", "RunTimeData"],
                json!(b64(&other.runtime_data)),
            ),
            400,
            "HclBindingMismatch",
        ),
        (
            set(&["IsolationInfo", "Evidence", "Proof"], json!(b64(&tampered))),
            400,
            "QuoteSignatureInvalid",
        ),
        (
            set(
                &["IsolationInfo", "Evidence", "HclReport"],
                json!(b64(&rtmr.hcl_report())),
            ),
            400,
            "HclTdReportMismatch",
        ),
        (
            set(&["ClientPayload", "nonce"], json!(b64(b"another"))),
            400,
            "VtpmQuoteNonceMismatch",
        ),
        (
            guest.attestation_info(&out_of_date.td_quote(&guest.td), nonce),
            400,
            "TcbStatusNotAccepted",
        ),
        (
            guest.attestation_info(&not_imported.td_quote(&guest.td), nonce),
            503,
            "CollateralNotFound",
        ),
    ];
    for (doc, want_status, want_code) in cases {
        let (status, body) = attest(&server, &doc, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{body}"
        );
        assert!(body.get("token").is_none());
    }

    // Offline: `attestd verify azure-guest` with the bundle.
    let doc = dir.path().join("attestation-info.json");
    std::fs::write(&doc, info.to_string()).expect("doc");
    let doc = doc.to_str().expect("utf-8");
    let run = |extra: &[&str]| {
        let mut args = vec!["verify", "azure-guest", doc, "--insecure-test-sgx-root", root];
        args.extend(extra);
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .expect("attestd verify")
    };
    let out = run(&["--collateral", &bundles[0]]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let claims: Value = serde_json::from_slice(&out.stdout).expect("claims JSON");
    assert_eq!(claims["x-ms-isolation-tee"]["x-ms-attestation-type"], "tdxvm");
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CollateralNotFound"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
