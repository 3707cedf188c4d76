//! `attestd policy check|eval|jws`, run as a process.

use std::process::{Command, Output};

use attestd_service::management::jws::ManagementJws;

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run attestd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_reports_validity_and_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.txt");
    std::fs::write(&good, attestd_policy::defaults::SHARED_LEGACY).expect("write");
    let out = run(&["policy", "check", good.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk"));

    let bad = dir.path().join("bad.txt");
    std::fs::write(
        &bad,
        "version=1.0;\nauthorizationrules {\n  [type==\"a\"] [type==\"b\"] => permit();\n};",
    )
    .expect("write");
    let out = run(&["policy", "check", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("PolicyParsingError") && err.contains("line 3, column 15"),
        "{err}"
    );
    assert!(err.contains("              ^"), "caret under the column: {err}");

    let lenient = dir.path().join("lenient.txt");
    std::fs::write(
        &lenient,
        "version=1.0; authorizationrules { [type=\"a\"] => permit() };",
    )
    .expect("write");
    let out = run(&["policy", "check", lenient.to_str().expect("utf-8")]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("'=' in a condition read as '=='"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn eval_prints_rules_verdict_and_claims() {
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("p.txt");
    std::fs::write(
        &policy,
        "version=1.0;\nauthorizationrules {\n  [type==\"x-ms-sgx-is-debuggable\", value==false] => permit();\n};\nissuancerules {\n  c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);\n};",
    )
    .expect("write");
    let claims = dir.path().join("claims.json");
    std::fs::write(&claims, r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-svn": 3}"#).expect("write");
    let out = run(&[
        "policy",
        "eval",
        "--policy",
        policy.to_str().expect("p"),
        "--claims",
        claims.to_str().expect("c"),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("fired   authorizationrules rule 1 (line 3)"),
        "{stdout}"
    );
    assert!(stdout.contains("+ svn = 3"), "{stdout}");
    let json_start = stdout.find('{').expect("json");
    let v: serde_json::Value = serde_json::from_str(&stdout[json_start..]).expect("verdict json");
    assert_eq!(v["verdict"], "permit");
    assert_eq!(v["issued"]["svn"], 3);

    std::fs::write(
        &claims,
        r#"[{"type": "x-ms-sgx-is-debuggable", "value": true}, {"type": "x-ms-sgx-svn", "value": 3, "issuer": "CustomClaim"}]"#,
    )
    .expect("write");
    let out = run(&[
        "policy",
        "eval",
        "--policy",
        policy.to_str().expect("p"),
        "--claims",
        claims.to_str().expect("c"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("skipped authorizationrules rule 1"), "{stdout}");
    assert!(stdout.contains("No Permit claim was issued"), "{stdout}");
}

#[test]
fn jws_unsigned_and_signed_are_what_the_service_accepts() {
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("p.txt");
    let text_in = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";
    std::fs::write(&policy, text_in).expect("write");

    let out = run(&["policy", "jws", policy.to_str().expect("p")]);
    assert!(out.status.success());
    let jws = text(&out.stdout);
    assert!(jws.trim().starts_with("eyJhbGciOiJub25lIn0."), "{jws}");
    assert!(jws.trim().ends_with('.'), "empty signature: {jws}");
    let parsed = ManagementJws::parse(&jws, std::time::SystemTime::now()).expect("parses");
    assert!(parsed.signer.is_none());
    assert_eq!(parsed.policy_text().expect("text"), text_in);

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("cert");
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write");
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write");
    let out = run(&[
        "policy",
        "jws",
        policy.to_str().expect("p"),
        "--key",
        dir.path().join("key.pem").to_str().expect("k"),
        "--cert",
        dir.path().join("cert.pem").to_str().expect("c"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signed = text(&out.stdout);
    let parsed = ManagementJws::parse(&signed, std::time::SystemTime::now()).expect("signature verifies");
    let signer = parsed.signer.as_ref().expect("signed");
    assert_eq!(signer.certificate.as_deref(), Some(cert.der().as_ref()));
    assert_eq!(parsed.policy_text().expect("text"), text_in);
    // A flipped payload byte breaks the signature.
    let mut parts: Vec<String> = signed.trim().split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('J', "K", 1);
    assert!(ManagementJws::parse(&parts.join("."), std::time::SystemTime::now()).is_err());
}
