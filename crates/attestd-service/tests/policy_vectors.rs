//! MAA's recorded policy exchanges (../shared/vectors/azure-sdk): our hashes equal MAA's, and every
//! policy text MAA stored or served parses.

use std::time::{Duration, UNIX_EPOCH};

use attestd_service::management::jws::ManagementJws;
use serde_json::Value;

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = attestd_token::b64::decode_url_strict(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

fn exchanges() -> Vec<Value> {
    let dir = attestd_testkit::vectors_dir().join("azure-sdk");
    let mut out = Vec::new();
    for file in ["py-sdk-1.0.0/exchanges.jsonl", "cpp-sdk/exchanges.jsonl"] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("exchange")),
        );
    }
    out
}

fn response_token(e: &Value) -> Option<String> {
    let body = match &e["response_body"] {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    body["token"].as_str().map(str::to_owned)
}

#[test]
fn policy_token_hashes_and_texts_match_maa() {
    let mut hashed = 0;
    let mut texts = 0;
    for e in exchanges() {
        let uri = e["uri"].as_str().unwrap_or_default();
        if !uri.contains("/policies/") || e["status"] != 200 {
            continue;
        }
        let Some(token) = response_token(&e) else { continue };
        let result = claims(&token);
        if let Some(body) = e["request_body"].as_str() {
            // Verify as of the recording: the signer certificates may have expired since.
            let at = UNIX_EPOCH + Duration::from_secs(result["iat"].as_u64().expect("iat"));
            let jws = ManagementJws::parse(body, at).unwrap_or_else(|err| panic!("{uri}: {err}"));
            // MAA's 2021 reset results carried no token hash (azure-sdk/README.md).
            if let Some(theirs) = result["x-ms-policy-token-hash"].as_str() {
                assert_eq!(theirs, jws.token_hash, "{uri}");
                hashed += 1;
            }
            if e["method"] == "PUT" {
                let text = jws.policy_text().expect("AttestationPolicy");
                attestd_policy::Policy::compile(&text).unwrap_or_else(|err| panic!("{uri}: {err}\n{text}"));
                texts += 1;
            }
        }
        if e["method"] == "GET" {
            let stored = result["x-ms-policy"].as_str().expect("x-ms-policy");
            if stored.ends_with("..") {
                continue; // no policy (TPM)
            }
            let at = UNIX_EPOCH + Duration::from_secs(result["iat"].as_u64().expect("iat"));
            let jws = ManagementJws::parse(stored, at).unwrap_or_else(|err| panic!("{uri}: {err}"));
            let text = jws.policy_text().expect("AttestationPolicy");
            attestd_policy::Policy::compile(&text).unwrap_or_else(|err| panic!("{uri}: {err}\n{text}"));
            texts += 1;
        }
    }
    eprintln!("{hashed} token hashes and {texts} policy texts checked");
    assert!(hashed >= 10, "only {hashed} recorded policy writes with bodies");
    assert!(texts >= 10, "only {texts} recorded policy texts");
}

/// Every recorded attestation token's `x-ms-policy-hash` is the hash of the policy it was
/// evaluated with, where the recording shows that policy: the shared default, a draft, or a set one.
#[test]
fn attestation_policy_hashes_match_maa() {
    let shared = attestd_policy::policy_hash(attestd_policy::defaults::SHARED_LEGACY);
    let permit_all = attestd_policy::policy_hash("version=1.0; authorizationrules{=> permit();}; issuancerules{};");
    let mut checked = 0;
    for e in exchanges() {
        let uri = e["uri"].as_str().unwrap_or_default();
        if !uri.contains("/attest/") || e["status"] != 200 {
            continue;
        }
        let Some(token) = response_token(&e) else { continue };
        let c = claims(&token);
        let Some(hash) = c["x-ms-policy-hash"].as_str() else {
            continue;
        };
        let request: Value = e["request_body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        if let Some(draft) = request["draftPolicyForAttestation"].as_str() {
            assert_eq!(hash, attestd_policy::policy_hash(draft), "{uri}: draft");
            attestd_policy::Policy::compile(draft).expect("draft parses");
            checked += 1;
        } else if hash == shared || hash == permit_all {
            checked += 1;
        }
    }
    eprintln!("{checked} attestation policy hashes checked");
    assert!(
        checked >= 5,
        "only {checked} attestation tokens matched a known policy hash"
    );
}
