//! The service core against real stores: providers, keys, restarts, sealing, the pipeline.

use std::sync::Arc;

use attestd_evidence::{
    Appraisal, AttestationType, Evidence, EvidenceError, Verifier, VerifierRegistry, VerifyContext, VerifyFuture,
};
use attestd_service::{
    AttestOptions, DEFAULT_PROVIDER, MasterKey, ProviderName, Service, ServiceConfig, ServiceError, TrustModel,
};
use attestd_store::Store;
use attestd_token::{Algorithm, KeySet, PublicKey, Validation, maa_kid, verify};

const URL: &str = "https://localhost:8443";

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    Store::open_sqlite(&dir.path().join("attestd.db")).await.expect("store")
}

fn config() -> ServiceConfig {
    ServiceConfig::new(URL)
}

#[tokio::test]
async fn default_provider_key_survives_restart_and_follows_kid_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("service");
    let p = service.providers().get(DEFAULT_PROVIDER).await.expect("default");
    assert_eq!(p.trust_model, TrustModel::Shared);
    assert_eq!(p.issuer, URL);
    let kid = p.signer.key().kid().to_owned();
    let jwk = &p.jwks.keys[0];
    let cert = jwk.leaf_certificate_der().expect("x5c").expect("leaf");
    assert_eq!(
        maa_kid(PublicKey::from_certificate_der(&cert).expect("key").spki_der()),
        kid
    );
    assert_eq!(jwk.kty, "RSA");
    service.store().close().await;
    drop(service);

    let again = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("restart");
    let p2 = again.providers().get(DEFAULT_PROVIDER).await.expect("default");
    assert_eq!(p2.signer.key().kid(), kid);
    assert_eq!(p2.jwks_json, p.jwks_json, "same /certs after restart");
}

#[tokio::test]
async fn new_public_url_reissues_the_certificate_but_keeps_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("service");
    let kid = service
        .providers()
        .get(DEFAULT_PROVIDER)
        .await
        .expect("p")
        .signer
        .key()
        .kid()
        .to_owned();
    service.store().close().await;
    let moved = Service::new(
        ServiceConfig::new("https://attest.example"),
        sqlite_store(&dir).await,
        VerifierRegistry::new(),
    )
    .await
    .expect("service");
    let p = moved.providers().get(DEFAULT_PROVIDER).await.expect("p");
    assert_eq!(p.signer.key().kid(), kid);
    assert_eq!(p.issuer, "https://attest.example");
    let metadata: serde_json::Value = serde_json::from_slice(&p.openid_json).expect("json");
    assert_eq!(metadata["jwks_uri"], "https://attest.example/certs");
}

#[tokio::test]
async fn sealed_keys_need_the_right_master_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let master = MasterKey::from_bytes([42; 32]);
    let mut sealed = config();
    sealed.master_key = Some(master.clone());
    let service = Service::new(sealed.clone(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("service");
    let kid = service
        .providers()
        .get(DEFAULT_PROVIDER)
        .await
        .expect("p")
        .signer
        .key()
        .kid()
        .to_owned();
    let rows = service.store().signing_keys(DEFAULT_PROVIDER).await.expect("rows");
    assert_eq!(rows[0].protection, "sealed-v1");
    // The stored bytes are not the PKCS#8 key: it starts with a random nonce, then ciphertext.
    assert_ne!(rows[0].private_key[..2], [0x30, 0x82]);
    service.store().close().await;

    let err = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect_err("no master key");
    assert_eq!(err.code(), "ConfigurationError", "{err}");
    let mut wrong = config();
    wrong.master_key = Some(MasterKey::from_bytes([1; 32]));
    let err = Service::new(wrong, sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect_err("wrong key");
    assert!(err.to_string().contains("does not open"), "{err}");
    let ok = Service::new(sealed, sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("right key");
    assert_eq!(
        ok.providers()
            .get(DEFAULT_PROVIDER)
            .await
            .expect("p")
            .signer
            .key()
            .kid(),
        kid
    );
}

#[tokio::test]
async fn providers_are_created_once_and_looked_up_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("service");
    let name = ProviderName::new("t1").expect("name");
    let p = service
        .providers()
        .create(&name, TrustModel::Isolated, Some(Algorithm::ES256), "{}")
        .await
        .expect("create");
    assert_eq!(p.issuer, "https://localhost:8443/tenants/t1");
    assert_eq!(p.token_alg(), Algorithm::ES256);
    assert_eq!(p.jwks.keys[0].kty, "EC");
    assert!(matches!(
        service.providers().create(&name, TrustModel::Token, None, "{}").await,
        Err(ServiceError::ProviderExists(_))
    ));
    assert!(matches!(
        service.providers().get("nope").await,
        Err(ServiceError::ProviderNotFound(_))
    ));
    assert!(matches!(
        service.providers().get("../etc").await,
        Err(ServiceError::ProviderNotFound(_))
    ));
    let default_kid = service
        .providers()
        .get(DEFAULT_PROVIDER)
        .await
        .expect("default")
        .signer
        .key()
        .kid()
        .to_owned();
    assert_ne!(p.signer.key().kid(), default_kid, "every provider has its own key");
    let names: Vec<_> = service
        .providers()
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["default", "t1"]);
}

#[tokio::test]
async fn a_provider_created_by_another_process_is_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("server");
    assert!(server.providers().get("late").await.is_err());
    let cli = Service::new(config(), sqlite_store(&dir).await, VerifierRegistry::new())
        .await
        .expect("cli");
    let created = cli
        .providers()
        .create(
            &ProviderName::new("late").expect("name"),
            TrustModel::Shared,
            None,
            "{}",
        )
        .await
        .expect("create");
    let seen = server.providers().get("late").await.expect("found after creation");
    assert_eq!(seen.signer.key().kid(), created.signer.key().kid());
}

#[tokio::test]
async fn nodes_sharing_postgres_agree_on_keys() {
    let db = attestd_testkit::postgres_schema("service").await;
    let (a, b) = tokio::join!(
        async {
            Service::new(
                config(),
                Store::open(&db.url).await.expect("store a"),
                VerifierRegistry::new(),
            )
            .await
        },
        async {
            Service::new(
                config(),
                Store::open(&db.url).await.expect("store b"),
                VerifierRegistry::new(),
            )
            .await
        },
    );
    // Both nodes race to migrate (sqlx serializes that with an advisory lock) and to create the
    // first key (a unique index lets one win): both must come up with the same key.
    let (a, b) = (a.expect("node a"), b.expect("node b"));
    let ka = a
        .providers()
        .get(DEFAULT_PROVIDER)
        .await
        .expect("a")
        .signer
        .key()
        .kid()
        .to_owned();
    let kb = b
        .providers()
        .get(DEFAULT_PROVIDER)
        .await
        .expect("b")
        .signer
        .key()
        .kid()
        .to_owned();
    assert_eq!(ka, kb);
    assert_eq!(a.store().signing_keys(DEFAULT_PROVIDER).await.expect("rows").len(), 1);
}

/// A verifier that accepts evidence equal to `good` and nothing else.
struct Exact;

impl Verifier for Exact {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::SgxEnclave]
    }

    fn verify<'a>(&'a self, evidence: &'a Evidence, _ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
        Box::pin(async move {
            if evidence.bytes != b"good" {
                return Err(EvidenceError::invalid("TestEvidenceRejected", "evidence is not 'good'"));
            }
            let mut a = Appraisal::default();
            a.incoming.add("$is-debuggable", false);
            a.incoming.add("$tee", "sgx");
            a.incoming.add("x-ms-sgx-is-debuggable", false);
            a.token_claims.insert("x-test".into(), serde_json::json!(true));
            Ok(a)
        })
    }
}

#[tokio::test]
async fn pipeline_signs_verified_claims_and_refuses_the_rest() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut verifiers = VerifierRegistry::new();
    verifiers.register(Arc::new(Exact));
    let service = Service::new(config(), sqlite_store(&dir).await, verifiers)
        .await
        .expect("service");
    let p = service.providers().get(DEFAULT_PROVIDER).await.expect("p");
    let evidence = |t, bytes: &[u8]| Evidence {
        attestation_type: t,
        bytes: bytes.to_vec(),
        runtime_data: None,
        init_time_data: None,
    };
    let options = AttestOptions {
        nonce: Some("n-1".into()),
        draft_policy: None,
    };
    let token = service
        .attest(&p, &evidence(AttestationType::SgxEnclave, b"good"), &options)
        .await
        .expect("token");
    let keys = KeySet::from_jwks(&p.jwks).expect("keys");
    let v = verify(
        &token,
        &keys,
        &Validation {
            issuer: Some(URL.into()),
            ..Validation::default()
        },
    )
    .expect("verifies");
    assert_eq!(v.claims["x-test"], true);
    assert_eq!(v.claims["nonce"], "n-1");
    assert_eq!(v.claims["x-ms-attestation-type"], "sgx");
    assert_eq!(v.claims["x-ms-ver"], "1.0");
    assert_eq!(v.claims["jti"].as_str().map(str::len), Some(64));
    let (iat, exp) = (
        v.claims["iat"].as_i64().expect("iat"),
        v.claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 8 * 3600);
    // The shared default policy issued its claims into x-ms-policy and, for SGX, at the top level.
    assert_eq!(
        v.claims["x-ms-policy"],
        serde_json::json!({"is-debuggable": false, "tee": "sgx"})
    );
    assert_eq!(v.claims["tee"], "sgx");
    assert_eq!(
        v.claims["x-ms-policy-hash"],
        "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk"
    );

    let err = service
        .attest(&p, &evidence(AttestationType::SgxEnclave, b"bad"), &options)
        .await
        .expect_err("rejected");
    assert_eq!(err.code(), "TestEvidenceRejected");
    let err = service
        .attest(&p, &evidence(AttestationType::TdxVm, b"good"), &options)
        .await
        .expect_err("no verifier");
    assert_eq!(err.code(), "UnsupportedAttestationType");
}

#[tokio::test]
async fn draft_policies_give_unsecured_tokens_or_precise_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut verifiers = VerifierRegistry::new();
    verifiers.register(Arc::new(Exact));
    let service = Service::new(config(), sqlite_store(&dir).await, verifiers)
        .await
        .expect("service");
    let p = service.providers().get(DEFAULT_PROVIDER).await.expect("p");
    let evidence = Evidence {
        attestation_type: AttestationType::SgxEnclave,
        bytes: b"good".to_vec(),
        runtime_data: None,
        init_time_data: None,
    };
    let attest = |draft: &str| {
        let options = AttestOptions {
            nonce: None,
            draft_policy: Some(draft.into()),
        };
        let service = &service;
        let p = &p;
        let evidence = &evidence;
        async move { service.attest(p, evidence, &options).await }
    };
    let err = attest("version=1.0;").await.expect_err("no authorizationrules");
    assert_eq!(err.code(), "PolicyParsingError");
    let err =
        attest("version=1.0; authorizationrules { [type==\"x-ms-sgx-is-debuggable\", value==true] => permit(); };")
            .await
            .expect_err("denied");
    assert_eq!(err.code(), "PolicyEvaluationError");
    let draft = "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"custom-name\", value=\"x\"); => issueproperty(type=\"report_validity_in_minutes\", value=5); };";
    let token = attest(draft).await.expect("permitted");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], "", "an unsecured token has no signature");
    let header: serde_json::Value =
        serde_json::from_slice(&attestd_token::b64::decode_url_strict(parts[0]).expect("b64")).expect("json");
    assert_eq!(header["alg"], "none");
    let claims: serde_json::Value =
        serde_json::from_slice(&attestd_token::b64::decode_url_strict(parts[1]).expect("b64")).expect("json");
    assert_eq!(claims["x-ms-policy-hash"], attestd_policy::policy_hash(draft));
    assert_eq!(claims["custom-name"], "x");
    assert_eq!(claims["x-ms-policy"]["custom-name"], "x");
    // The policy's report_validity_in_minutes sets the lifetime; property claims are not issued.
    assert_eq!(
        claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
        300
    );
    assert!(claims.get("report_validity_in_minutes").is_none());
}
