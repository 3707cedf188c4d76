//! MAA's TPM protocol on `POST /attest/Tpm` over HTTPS: each round is `{"data": base64url(JSON)}`
//! (init → challenge → attReqV2 request → report). AK certificates come from a test CA the server
//! trusts with `--tpm-aik-roots`.
//!
//! * a software attester (an RSA AK signing TPMS_ATTEST built here): token claims, and an AK from
//!   another CA, a quote over another nonce, a PCR value that is not the quoted one, an unknown
//!   message and a request without a valid context each fail with their own 400 code;
//! * `swtpm` through `attestd-client` (raw TPM2 commands) and `attestd tpm attest`: PCRs extended
//!   from a synthesized TCG log; wrong nonce, truncated log, PCR changed after the log, untrusted
//!   AK CA; and a JmesPath policy over `events` permitting SecureBoot on and denying it off.
//!   swtpm missing is a failure, not a skip (`scripts/test` installs it);
//! * Trusted Launch monitoring: one swtpm machine attests, its boot measurements change, then it
//!   fails; the webhook, the log, the metrics and `attestd attesters` each show the alerts.

use std::path::Path;

mod common;

use attestd_testkit::TestServer;
use attestd_token::b64;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");
const ADMIN: &str = "tpm-test-admin-token-0123456789";
const API: &str = "api-version=2022-08-01";

fn sign(k: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(alg, &SystemRandom::new(), msg, &mut sig).expect("sign");
    sig
}

fn jwk(k: &RsaKeyPair) -> Value {
    let p = k.public_key();
    json!({"kty": "RSA", "n": b64::encode_url(p.modulus().big_endian_without_leading_zero()),
           "e": b64::encode_url(p.exponent().big_endian_without_leading_zero())})
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().to_vec()
}

/// Creates tenant `tpmlab` (token trust model) and returns an operator token for its management API.
async fn operator_token(server: &TestServer) -> String {
    common::token_tenant(server, ADMIN, "tpmlab", None).await
}

/// A server trusting `ca` for AIK certificates (`--tpm-aik-roots`), with the test's admin token;
/// the directory holds the roots file (and is the test's scratch space).
fn tpm_server(ca: &Ca) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let roots = dir.path().join("aik-roots.pem");
    std::fs::write(&roots, &ca.root_pem).expect("write roots");
    let server = TestServer::start(
        Path::new(BIN),
        &[
            "--admin-token",
            ADMIN,
            "--tpm-aik-roots",
            roots.to_str().expect("utf-8"),
        ],
    );
    (server, dir)
}

/// A CA and an RSA attestation key it certifies (EKU tcg-kp-AIKCertificate).
struct Ca {
    root_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ca key");
        let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let cert = params.self_signed(&key).expect("root");
        Ca {
            root_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A fresh AK and its certificate (DER).
    fn ak(&self) -> (RsaKeyPair, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("ak");
        let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "test AK");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(vec![2, 23, 133, 8, 3])];
        let cert = params.signed_by(&key, &self.issuer).expect("ak cert");
        let ak = RsaKeyPair::from_pkcs8(&key.serialize_der()).expect("ak pkcs8");
        (ak, cert.der().to_vec())
    }
}

/// TPMS_ATTEST over SHA-256 PCRs 0..=23 and its TPMT_SIGNATURE.
fn quote(ak: &RsaKeyPair, extra: &[u8], values: &[[u8; 32]; 24]) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::new();
    q.extend(0xff54_4347u32.to_be_bytes());
    q.extend(0x8018u16.to_be_bytes());
    q.extend(2u16.to_be_bytes());
    q.extend([0, 0xb]);
    q.extend((extra.len() as u16).to_be_bytes());
    q.extend(extra);
    q.extend([0u8; 17]);
    q.extend(0x2016_0511_0016_2800u64.to_be_bytes());
    q.extend(1u32.to_be_bytes());
    q.extend(0x000bu16.to_be_bytes());
    q.extend([3, 0xff, 0xff, 0xff]);
    let digest = sha256(&values.iter().map(|v| &v[..]).collect::<Vec<_>>());
    q.extend((digest.len() as u16).to_be_bytes());
    q.extend(digest);
    let sig = sign(ak, &signature::RSA_PKCS1_SHA256, &q);
    let mut t = Vec::new();
    t.extend(0x0014u16.to_be_bytes());
    t.extend(0x000bu16.to_be_bytes());
    t.extend((sig.len() as u16).to_be_bytes());
    t.extend(sig);
    (q, t)
}

#[derive(Clone, Copy, Default)]
struct Break {
    nonce: bool,
    pcr: bool,
}

/// The attReqV2 request answering `challenge` with AK `ak` certified by `cert`.
fn request(ak: &RsaKeyPair, cert: &[u8], challenge: &str, context: &str, b: Break) -> Value {
    let request_key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let key_jwk = jwk(&request_key).to_string();
    let mut ch = attestd_evidence::b64::decode_lenient(challenge).expect("challenge");
    if b.nonce {
        ch[0] ^= 1;
    }
    let extra = sha256(&[key_jwk.as_bytes(), &[0], &ch]);
    let mut pcrs = [[0u8; 32]; 24];
    for (i, p) in pcrs.iter_mut().enumerate() {
        p[0] = i as u8;
    }
    let (q, s) = quote(ak, &extra, &pcrs);
    if b.pcr {
        pcrs[7][1] = 1;
    }
    let values: Vec<_> = pcrs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"index": i, "digest": b64::encode_url(v)}))
        .collect();
    let current = json!({"logs": [], "aik_cert": b64::encode_url(cert), "aik_pub": jwk(ak),
                         "pcrs": [{"algorithm": 11, "values": values}],
                         "quote": b64::encode_url(&q), "signature": b64::encode_url(&s)});
    let payload = format!(
        r#"{{"att_type":"basic","att_data":{{"rp_id":"https://rp.example","rp_data":"{}","challenge":"{challenge}","tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{key_jwk},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"service_context":"{context}"}}}}"#,
        b64::encode_url(b"rp")
    );
    let input = format!(
        "{}.{}",
        b64::encode_url(br#"{"alg":"PS256","typ":"attReqV2"}"#),
        b64::encode_url(payload.as_bytes())
    );
    let sig = sign(&request_key, &signature::RSA_PSS_SHA256, input.as_bytes());
    json!({ "request": format!("{input}.{}", b64::encode_url(&sig)) })
}

/// One round: the reply message, or the error.
async fn round(server: &TestServer, path: &str, message: &Value) -> (u16, Value) {
    let r = server
        .client()
        .post(format!("{}{path}/attest/Tpm?{API}", server.url()))
        .json(&json!({ "data": b64::encode_url(message.to_string().as_bytes()) }))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status == 200 {
        let data = attestd_evidence::b64::decode_lenient(body["data"].as_str().expect("data")).expect("b64");
        (status, serde_json::from_slice(&data).expect("reply json"))
    } else {
        (status, body)
    }
}

const T: &str = "/tenants/tpmlab";

async fn challenge(server: &TestServer) -> (String, String) {
    let (status, reply) = round(server, T, &json!({"type": "aikcert"})).await;
    assert_eq!(status, 200, "{reply}");
    (
        reply["challenge"].as_str().expect("challenge").to_owned(),
        reply["service_context"].as_str().expect("context").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tpm_protocol_issues_a_token_and_each_failure_has_its_code() {
    let ca = Ca::new("attestd test AIK CA");
    let (server, _dir) = tpm_server(&ca);
    // No built-in TPM policy: the first round says so.
    let (status, body) = round(&server, "", &json!({"type": "aikcert"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PolicyNotConfigured")),
        "{body}"
    );
    let bearer = operator_token(&server).await;
    let (status, body) = round(&server, T, &json!({"type": "aikcert"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PolicyNotConfigured")),
        "{body}"
    );
    let policy = "version=1.0; authorizationrules { [type==\"aikValidated\", value==true] => permit(); }; issuancerules { c:[type==\"aikValidated\"] => issue(type=\"aikValidated\", value=c.value); c:[type==\"tpmVersion\"] => issue(type=\"tpmVersion\", value=c.value); };";
    let jws_payload = json!({"AttestationPolicy": b64::encode_url(policy.as_bytes())}).to_string();
    let jws = format!("eyJhbGciOiJub25lIn0.{}.", b64::encode_url(jws_payload.as_bytes()));
    let r = server
        .client()
        .put(format!("{}{T}/policies/Tpm?{API}", server.url()))
        .bearer_auth(&bearer)
        .header("content-type", "text/plain")
        .body(jws)
        .send()
        .await
        .expect("set policy");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());

    let (ak, cert) = ca.ak();
    let (ch, sc) = challenge(&server).await;
    let (status, reply) = round(&server, T, &request(&ak, &cert, &ch, &sc, Break::default())).await;
    assert_eq!(status, 200, "{reply}");
    let token = reply["report"].as_str().expect("report");
    let claims: Value = serde_json::from_slice(
        &attestd_evidence::b64::decode_lenient(token.split('.').nth(1).expect("payload")).expect("b64"),
    )
    .expect("claims");
    assert_eq!(claims["x-ms-policy"]["aikValidated"], true, "{claims}");
    assert_eq!(claims["x-ms-policy"]["tpmVersion"], 2, "{claims}");
    assert_eq!(claims["rp_data"], b64::encode_url(b"rp"));
    assert_eq!(
        claims["x-ms-tpm-request-key"]["info"]["tpm_quote"]["hash_alg"],
        "sha-256"
    );
    assert!(claims["cnf"]["jwk"]["n"].is_string(), "{claims}");

    // Negatives, each with its code.
    let other_ca = Ca::new("someone else's CA");
    let (bad_ak, bad_cert) = other_ca.ak();
    let cases: [(&str, Value); 3] = [
        (
            "AikCertificateUntrusted",
            request(&bad_ak, &bad_cert, &ch, &sc, Break::default()),
        ),
        (
            "QuoteNonceMismatch",
            request(
                &ak,
                &cert,
                &ch,
                &sc,
                Break {
                    nonce: true,
                    pcr: false,
                },
            ),
        ),
        (
            "PcrDigestMismatch",
            request(
                &ak,
                &cert,
                &ch,
                &sc,
                Break {
                    nonce: false,
                    pcr: true,
                },
            ),
        ),
    ];
    for (code, message) in cases {
        let (status, body) = round(&server, T, &message).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{body}");
        assert!(body.get("data").is_none());
    }
    let (status, body) = round(&server, T, &json!({"hello": 1})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("UnknownMessage")),
        "{body}"
    );
    // A request without a valid context (out of order: no challenge was asked for).
    let (status, body) = round(&server, T, &request(&ak, &cert, &ch, "AAAA", Break::default())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ServiceContextInvalid")),
        "{body}"
    );
}

impl Ca {
    /// A certificate for the TPM's AK (EKU tcg-kp-AIKCertificate).
    fn certify(&self, modulus: &[u8]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "swtpm AK");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(vec![2, 23, 133, 8, 3])];
        params
            .signed_by(&common::RsaPublic::new(modulus), &self.issuer)
            .expect("ak cert")
            .der()
            .to_vec()
    }
}

/// `swtpm socket` on a free port pair, killed on drop.
struct Swtpm {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Swtpm {
    fn start() -> Swtpm {
        let found = std::process::Command::new("swtpm").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "swtpm is not installed: the TPM end-to-end test needs it (scripts/test installs swtpm swtpm-tools)"
        );
        let dir = tempfile::tempdir().expect("tmp");
        for _ in 0..20 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("port")
                .port();
            if port == u16::MAX || std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_err() {
                continue;
            }
            let child = std::process::Command::new("swtpm")
                .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.path().display()))
                .args(["--server", &format!("type=tcp,port={port},bindaddr=127.0.0.1")])
                .args(["--ctrl", &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn swtpm");
            let mut tpm = Swtpm { child, port, _dir: dir };
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return tpm;
                }
                if let Ok(Some(_)) = tpm.child.try_wait() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = tpm.child.kill();
            panic!("swtpm did not start on port {}", tpm.port);
        }
        panic!("no free port pair for swtpm");
    }

    fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

/// The attReqV2 request of a real TPM: quote over the key-bound challenge, PCRs read back.
fn tpm_request(
    tpm: &mut attestd_client::Tpm,
    (ak, cert): (&attestd_client::AttestationKey, &[u8]),
    challenge: &str,
    quoted_challenge: &str,
    context: &str,
    change_pcr_after_quote: bool,
    log: &[u8],
) -> Value {
    let request_key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let key_jwk = jwk(&request_key).to_string();
    let ch = attestd_evidence::b64::decode_lenient(quoted_challenge).expect("challenge");
    let extra = sha256(&[key_jwk.as_bytes(), &[0], &ch]);
    let q = tpm.quote(ak, &extra).expect("TPM2_Quote");
    if change_pcr_after_quote {
        tpm.pcr_extend(7, &[0xEE; 32]).expect("extend");
    }
    let pcrs = tpm.pcr_read().expect("PCR_Read");
    let values: Vec<_> = pcrs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"index": i, "digest": b64::encode_url(v)}))
        .collect();
    let aik_pub = json!({"kty": "RSA", "n": b64::encode_url(&ak.modulus), "e": "AQAB"});
    let current = json!({"logs": [{"type": "TCG", "log": b64::encode_url(log)}], "aik_cert": b64::encode_url(cert), "aik_pub": aik_pub,
                         "pcrs": [{"algorithm": 11, "values": values}],
                         "quote": b64::encode_url(&q.attest), "signature": b64::encode_url(&q.signature)});
    let payload = format!(
        r#"{{"att_type":"basic","att_data":{{"rp_id":"https://rp.example","challenge":"{challenge}","tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{key_jwk},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"service_context":"{context}"}}}}"#
    );
    let input = format!(
        "{}.{}",
        b64::encode_url(br#"{"alg":"PS256","typ":"attReqV2"}"#),
        b64::encode_url(payload.as_bytes())
    );
    let sig = sign(&request_key, &signature::RSA_PSS_SHA256, input.as_bytes());
    json!({ "request": format!("{input}.{}", b64::encode_url(&sig)) })
}

#[tokio::test(flavor = "multi_thread")]
async fn swtpm_attests_end_to_end() {
    let swtpm = Swtpm::start();
    let ca = Ca::new("attestd test AIK CA");
    let (server, dir) = tpm_server(&ca);
    let bearer = operator_token(&server).await;
    let policy = "version=1.2; authorizationrules { [type==\"aikValidated\", value==true] => permit(); }; issuancerules { c:[type==\"aikPubHash\"] => issue(type=\"aik\", value=c.value); c:[type==\"events\", issuer==\"AttestationService\"] => issue(type=\"events\", value=JmesPath(c.value, \"length(Events)\")); };";
    common::set_policy(&server, "tpmlab", "Tpm", &bearer, policy).await;

    let mut tpm = attestd_client::Tpm::connect(&swtpm.tcti()).expect("connect to swtpm");
    let ak = tpm.create_ak().expect("create AK");
    let cert = ca.certify(&ak.modulus);
    // Measurements extended into the TPM and recorded in a synthesized TCG log.
    let mut builder = attestd_client::EventLogBuilder::new();
    for (i, ty, event) in [
        (0u32, 0x8000_0008u32, &b"firmware"[..]), // EV_EFI_PLATFORM_FIRMWARE_BLOB
        (7, 0x0000_0004, b"separator"),           // EV_SEPARATOR
        (4, 0x8000_0003, b"boot manager"),        // EV_EFI_BOOT_SERVICES_APPLICATION
    ] {
        let d: [u8; 32] = sha256(&[event]).try_into().expect("32");
        tpm.pcr_extend(i, &d).expect("extend");
        builder.event(i, ty, &d, event);
    }
    let log = builder.bytes().to_vec();
    let (ch, sc) = challenge(&server).await;
    let (status, reply) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &cert), &ch, &ch, &sc, false, &log),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let token = reply["report"].as_str().expect("report");
    let claims: Value = serde_json::from_slice(
        &attestd_evidence::b64::decode_lenient(token.split('.').nth(1).expect("payload")).expect("b64"),
    )
    .expect("claims");
    assert!(claims["x-ms-policy"]["aik"].is_string(), "{claims}");
    // JmesPath() yields the JSON text of its result: the header and three events.
    assert_eq!(claims["x-ms-policy"]["events"], "4", "{claims}");

    // A truncated log.
    let truncated = &log[..log.len() - 5];
    let (status, body) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &cert), &ch, &ch, &sc, false, truncated),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("EventLogTruncated")),
        "{body}"
    );

    // The same through `attestd tpm attest` (the AK is the same primary key: the same certificate).
    drop(tpm);
    let cert_pem = dir.path().join("ak.pem");
    std::fs::write(
        &cert_pem,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64::encode_std(&cert)
        ),
    )
    .expect("write cert");
    let log_file = dir.path().join("log.bin");
    std::fs::write(&log_file, &log).expect("write log");
    let out = std::process::Command::new(BIN)
        .args([
            "tpm",
            "attest",
            "--server",
            &format!("{}{T}", server.url()),
            "--tcti",
            &swtpm.tcti(),
        ])
        .args([
            "--ak-cert",
            cert_pem.to_str().expect("utf-8"),
            "--event-log",
            log_file.to_str().expect("utf-8"),
        ])
        .args(["--ca", server.ca_pem().to_str().expect("utf-8")])
        .output()
        .expect("run attestd tpm attest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let claims: Value = serde_json::from_slice(
        &attestd_evidence::b64::decode_lenient(stdout.trim().split('.').nth(1).expect("payload")).expect("b64"),
    )
    .expect("claims");
    assert_eq!(claims["x-ms-policy"]["events"], "4", "{claims}");
    let mut tpm = attestd_client::Tpm::connect(&swtpm.tcti()).expect("reconnect");

    // Negatives from the real TPM.
    let (other, _) = challenge(&server).await;
    let (status, body) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &cert), &ch, &other, &sc, false, &log),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("QuoteNonceMismatch")),
        "{body}"
    );
    let (status, body) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &cert), &ch, &ch, &sc, true, &log),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PcrDigestMismatch")),
        "{body}"
    );
    let untrusted = Ca::new("untrusted CA").certify(&ak.modulus);
    // A PCR extended after the log was taken: the log no longer replays to the quoted value.
    tpm.pcr_extend(4, &[0x42; 32]).expect("extend");
    let (status, body) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &cert), &ch, &ch, &sc, false, &log),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("EventLogPcrMismatch")),
        "{body}"
    );
    let (status, body) = round(
        &server,
        T,
        &tpm_request(&mut tpm, (&ak, &untrusted), &ch, &ch, &sc, false, &log),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("AikCertificateUntrusted")),
        "{body}"
    );
}

/// The measured `SecureBoot` UEFI variable (EV_EFI_VARIABLE_DRIVER_CONFIG data) with value `on`.
fn secure_boot_variable(on: bool) -> Vec<u8> {
    let mut v = vec![
        0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11, 0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C,
    ];
    let name: Vec<u8> = "SecureBoot".encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend(10u64.to_le_bytes());
    v.extend(1u64.to_le_bytes());
    v.extend(name);
    v.push(u8::from(on));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jmespath_policy_over_events_permits_secure_boot_and_denies_it_off() {
    let ca = Ca::new("attestd test AIK CA");
    let (server, _dir) = tpm_server(&ca);
    let bearer = operator_token(&server).await;
    // JmesPath() yields the JSON text of its result: one SecureBoot=01 event is "1".
    let policy = "version=1.2; authorizationrules { c:[type==\"events\", issuer==\"AttestationService\"] => add(type=\"secureBootOn\", value=JmesPath(c.value, \"length(Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.UnicodeName == 'SecureBoot' && ProcessedData.VariableData == 'AQ'])\")); c:[type==\"secureBootOn\", value==\"1\"] => permit(); }; issuancerules { };";
    common::set_policy(&server, "tpmlab", "Tpm", &bearer, policy).await;
    for (on, expected) in [(true, None), (false, Some("PolicyEvaluationError"))] {
        let swtpm = Swtpm::start();
        let mut tpm = attestd_client::Tpm::connect(&swtpm.tcti()).expect("connect to swtpm");
        let ak = tpm.create_ak().expect("create AK");
        let cert = ca.certify(&ak.modulus);
        let data = secure_boot_variable(on);
        let d: [u8; 32] = sha256(&[&data]).try_into().expect("32");
        tpm.pcr_extend(7, &d).expect("extend");
        let mut log = attestd_client::EventLogBuilder::new();
        log.event(7, 0x8000_0001, &d, &data);
        let (ch, sc) = challenge(&server).await;
        let message = tpm_request(&mut tpm, (&ak, &cert), &ch, &ch, &sc, false, log.bytes());
        let (status, body) = round(&server, T, &message).await;
        match expected {
            None => assert!(status == 200 && body["report"].is_string(), "secure boot on: {body}"),
            Some(code) => assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{body}"),
        }
    }
}

/// A webhook receiver on 127.0.0.1: answers every request 200 and keeps the JSON bodies.
struct Webhook {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Webhook {
    async fn start() -> Webhook {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/alerts", listener.local_addr().expect("addr"));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let kept = std::sync::Arc::clone(&kept);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read the head, then as many body bytes as Content-Length says.
                    let body = loop {
                        let Ok(n) = conn.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    };
                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                        kept.lock().expect("lock").push(v);
                    }
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        Webhook { url, bodies }
    }

    /// Waits (up to 10 s) until `n` alerts arrived and returns them.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let got = self.bodies.lock().expect("lock").clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} webhook alerts, got {:?}",
            self.bodies.lock().expect("lock")
        );
    }
}

/// `attestd attesters …` against the running server, as JSON.
fn attesters_cli(server: &TestServer, args: &[&str]) -> Value {
    let out = std::process::Command::new(BIN)
        .arg("attesters")
        .args(args)
        .args(["--server", server.url(), "--admin-token", ADMIN])
        .args(["--ca", server.ca_pem().to_str().expect("utf-8")])
        .output()
        .expect("run attestd attesters");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("attesters JSON")
}

/// Polls the machine's history until it has `n` entries (the monitor writes off the request path).
async fn history(server: &TestServer, id: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let h = attesters_cli(server, &["history", id, "--provider", "tpmlab"]);
        let entries = h.as_array().cloned().unwrap_or_default();
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the history of {id} never reached {n} entries");
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_launch_monitoring_alerts_when_boot_measurements_change_or_the_machine_fails() {
    let hook = Webhook::start().await;
    let swtpm = Swtpm::start();
    let ca = Ca::new("attestd test AIK CA");
    let (server, _dir) = tpm_server(&ca);
    let bearer = common::token_tenant(&server, ADMIN, "tpmlab", Some(&hook.url)).await;
    let policy = "version=1.0; authorizationrules { [type==\"aikValidated\", value==true] => permit(); }; issuancerules { c:[type==\"aikPubHash\"] => issue(type=\"aik\", value=c.value); };";
    common::set_policy(&server, "tpmlab", "Tpm", &bearer, policy).await;

    let mut tpm = attestd_client::Tpm::connect(&swtpm.tcti()).expect("connect to swtpm");
    let ak = tpm.create_ak().expect("create AK");
    let cert = ca.certify(&ak.modulus);
    let mut builder = attestd_client::EventLogBuilder::new();
    let mut measure = |tpm: &mut attestd_client::Tpm, pcr: u32, ty: u32, event: &[u8]| {
        let d: [u8; 32] = sha256(&[event]).try_into().expect("32");
        tpm.pcr_extend(pcr, &d).expect("extend");
        builder.event(pcr, ty, &d, event);
        builder.bytes().to_vec()
    };
    measure(&mut tpm, 0, 0x8000_0008, b"firmware"); // EV_EFI_PLATFORM_FIRMWARE_BLOB
    measure(&mut tpm, 7, 0x0000_0004, b"separator"); // EV_SEPARATOR
    let boot1 = measure(&mut tpm, 4, 0x8000_0003, b"boot manager"); // EV_EFI_BOOT_SERVICES_APPLICATION
    let attest = async |tpm: &mut attestd_client::Tpm, log: &[u8], tamper: bool| {
        let (ch, sc) = challenge(&server).await;
        round(&server, T, &tpm_request(tpm, (&ak, &cert), &ch, &ch, &sc, tamper, log)).await
    };

    // First boot, attested twice: the baseline, no alert.
    for _ in 0..2 {
        let (status, reply) = attest(&mut tpm, &boot1, false).await;
        assert_eq!(status, 200, "{reply}");
    }
    let claims: Value = {
        let (status, reply) = attest(&mut tpm, &boot1, false).await;
        assert_eq!(status, 200, "{reply}");
        let token = reply["report"].as_str().expect("report");
        serde_json::from_slice(
            &attestd_evidence::b64::decode_lenient(token.split('.').nth(1).expect("payload")).expect("b64"),
        )
        .expect("claims")
    };
    let machine = claims["x-ms-policy"]["aik"].as_str().expect("aikPubHash").to_owned();
    let h = history(&server, &machine, 3).await;
    assert!(
        h.iter().all(|e| e["outcome"] == "success" && e["alert"].is_null()),
        "{h:?}"
    );
    assert!(hook.bodies.lock().expect("lock").is_empty());

    // The boot path changes: another boot application is measured into PCR 4. The attestation
    // still verifies (the log replays), and the change is an alert.
    let boot2 = measure(&mut tpm, 4, 0x8000_0003, b"another boot loader");
    let (status, reply) = attest(&mut tpm, &boot2, false).await;
    assert_eq!(status, 200, "{reply}");
    let alerts = hook.wait_for(1).await;
    assert_eq!(alerts[0]["alert"], "MeasurementsChanged", "{alerts:?}");
    assert_eq!(alerts[0]["attesterId"], machine.as_str());
    assert_eq!(alerts[0]["provider"], "tpmlab");
    assert_eq!(alerts[0]["attestationType"], "Tpm");
    assert_eq!(alerts[0]["changed"], json!(["PCR4"]), "{alerts:?}");
    let pcr4 = |m: &Value| m["PCR4"].as_str().map(str::to_owned);
    assert!(pcr4(&alerts[0]["previous"]).is_some() && pcr4(&alerts[0]["previous"]) != pcr4(&alerts[0]["current"]));

    // The machine now fails (a PCR changed after its log was taken): a second alert.
    let (status, body) = attest(&mut tpm, &boot2, true).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PcrDigestMismatch")),
        "{body}"
    );
    let alerts = hook.wait_for(2).await;
    assert_eq!(alerts[1]["alert"], "AttestationFailed", "{alerts:?}");
    assert_eq!(alerts[1]["errorCode"], "PcrDigestMismatch");
    // Failing again raises no new alert.
    let (status, _) = attest(&mut tpm, &boot2, true).await;
    assert_eq!(status, 400);

    // The history, newest first, through the CLI and the admin API.
    let h = history(&server, &machine, 6).await;
    let summary: Vec<(String, Option<String>)> = h
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["alert"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let s = |o: &str, a: Option<&str>| (o.to_owned(), a.map(str::to_owned));
    assert_eq!(
        summary,
        vec![
            s("failure", None),
            s("failure", Some("AttestationFailed")),
            s("success", Some("MeasurementsChanged")),
            s("success", None),
            s("success", None),
            s("success", None),
        ]
    );
    assert_eq!(h[2]["detail"], "changed: PCR4");
    let list = attesters_cli(&server, &["list", "--provider", "tpmlab"]);
    let m = &list[0];
    assert_eq!(
        (
            m["attester_id"].as_str(),
            m["last_outcome"].as_str(),
            m["successes"].as_i64(),
            m["failures"].as_i64()
        ),
        (Some(machine.as_str()), Some("failure"), Some(4), Some(2)),
        "{list}"
    );
    assert_eq!(
        pcr4(&m["baseline"]),
        pcr4(&alerts[0]["current"]),
        "the baseline is the last good boot"
    );

    // The log event and the counter.
    let log = server.log();
    assert!(
        log.contains("attester alert") && log.contains("MeasurementsChanged"),
        "{log}"
    );
    let metrics = common::metrics_text(&server).await;
    for alert in ["MeasurementsChanged", "AttestationFailed"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with("attestd_attester_alerts_total") && l.contains(alert) && l.contains("tpmlab"))
            .unwrap_or_else(|| panic!("no {alert} counter in\n{metrics}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
}
