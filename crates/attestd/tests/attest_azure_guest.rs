//! `POST /attest/AzureGuest` over HTTPS with MAA's request (`{"AttestationInfo":
//! base64url(JSON)}`) built from real Azure CVM evidence (AZ-SNP-4): the token verifies against
//! `/certs` with MAA's `azurevm` claims; a wrong nonce, an uncertified encryption key and a
//! denying draft policy give a 400 with their code and no token.

use std::path::Path;

use attestd_testkit::TestServer;
use attestd_testkit::azure::{attestation_info, b64, tpm2b_public};
use attestd_token::{JwkSet, KeySet, Validation, b64 as jose_b64, verify};
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
    let jwks: JwkSet = server
        .client()
        .get(format!("{}/certs", server.url()))
        .send()
        .await
        .expect("certs")
        .json()
        .await
        .expect("jwks");
    let v = verify(
        token,
        &KeySet::from_jwks(&jwks).expect("keys"),
        &Validation {
            issuer: Some(server.url().to_owned()),
            ..Validation::default()
        },
    )
    .expect("the token verifies against /certs");
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
