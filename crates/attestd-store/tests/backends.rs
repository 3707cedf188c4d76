//! The same behaviour on SQLite and PostgreSQL.

use attestd_store::{
    AuditFilter, AuditRecord, CertificateRecord, PolicyRecord, ProviderRecord, ReplayGuard, SigningKeyRecord, Store,
    StoreError,
};

fn provider(name: &str) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model: "shared".to_owned(),
        token_alg: "RS256".to_owned(),
        created_at: 1_700_000_000,
        settings: "{}".to_owned(),
        revision: 0,
    }
}

fn key(provider: &str, kid: &str, active: bool, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        provider: provider.to_owned(),
        kid: kid.to_owned(),
        alg: "RS256".to_owned(),
        protection: "plain".to_owned(),
        private_key: vec![1, 2, 3],
        certificate: vec![4, 5, 6],
        created_at,
        active,
    }
}

async fn exercise(store: &Store) {
    store.ping().await.expect("ping");
    assert!(store.insert_provider(&provider("default")).await.expect("insert"));
    assert!(
        !store
            .insert_provider(&provider("default"))
            .await
            .expect("second insert is a no-op")
    );
    assert!(store.insert_provider(&provider("alpha")).await.expect("insert"));
    let names: Vec<_> = store
        .providers()
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["alpha", "default"]);
    assert_eq!(store.provider("alpha").await.expect("get"), Some(provider("alpha")));
    assert_eq!(store.provider("missing").await.expect("get"), None);

    assert!(
        store
            .insert_signing_key(&key("default", "k1", true, 10))
            .await
            .expect("key")
    );
    // A second active key for the same provider loses the race and is not inserted.
    assert!(
        !store
            .insert_signing_key(&key("default", "k2", true, 20))
            .await
            .expect("key")
    );
    // Retired keys can coexist with the active one.
    assert!(
        store
            .insert_signing_key(&key("default", "k0", false, 5))
            .await
            .expect("key")
    );
    let keys = store.signing_keys("default").await.expect("keys");
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k1", "k0"]);
    assert!(keys[0].active && !keys[1].active);
    assert_eq!(keys[0].private_key, vec![1, 2, 3]);

    store
        .set_signing_certificate("default", "k1", &[9])
        .await
        .expect("update");
    assert_eq!(
        store.signing_keys("default").await.expect("keys")[0].certificate,
        vec![9]
    );
    assert!(store.set_signing_certificate("default", "nope", &[9]).await.is_err());
    // Keys need an existing provider.
    assert!(store.insert_signing_key(&key("ghost", "k", true, 1)).await.is_err());

    policies_and_certificates(store).await;
    audit_and_collateral(store).await;
    attesters(store).await;
    assert!(store.delete_provider("alpha").await.expect("delete"));
    assert!(!store.delete_provider("alpha").await.expect("delete again"));
    assert!(store.policies("alpha").await.expect("cascade").is_empty());
}

fn policy(t: &str, text: &str, token_hash: &str) -> PolicyRecord {
    PolicyRecord {
        provider: "alpha".into(),
        attestation_type: t.into(),
        policy_text: text.into(),
        policy_hash: format!("hash-of-{text}"),
        policy_jws: format!("jws-of-{text}"),
        token_hash: token_hash.into(),
        signer: Some(vec![7, 7]),
        updated_at: 100,
    }
}

fn audit(op: &str) -> AuditRecord {
    AuditRecord {
        at: 100,
        provider: "alpha".into(),
        kind: "management".into(),
        operation: op.into(),
        outcome: "success".into(),
        ..AuditRecord::default()
    }
}

async fn policies_and_certificates(store: &Store) {
    let rev0 = revision(store, "alpha").await;
    let g = |scope: &'static str, h: &'static str| Some(ReplayGuard { scope, token_hash: h });
    let before = store
        .set_policy(
            &policy("SgxEnclave", "A", "hA"),
            g("set:SgxEnclave", "hA"),
            audit("policy.set"),
        )
        .await
        .expect("set A");
    assert_eq!(before, None);
    assert!(revision(store, "alpha").await > rev0, "changes bump the revision");
    // The same JWS again is a no-op and allowed.
    store
        .set_policy(
            &policy("SgxEnclave", "A", "hA"),
            g("set:SgxEnclave", "hA"),
            audit("policy.set"),
        )
        .await
        .expect("idempotent");
    let before = store
        .set_policy(
            &policy("SgxEnclave", "B", "hB"),
            g("set:SgxEnclave", "hB"),
            audit("policy.set"),
        )
        .await
        .expect("set B");
    assert_eq!(before.as_deref(), Some("hash-of-A"));
    // Replaying the older JWS after the policy moved on is refused, and changes nothing.
    let err = store
        .set_policy(
            &policy("SgxEnclave", "A", "hA"),
            g("set:SgxEnclave", "hA"),
            audit("policy.set"),
        )
        .await
        .expect_err("replay");
    assert!(matches!(err, StoreError::Replay(_)), "{err}");
    // Unsigned writes have no guard.
    store
        .set_policy(&policy("OpenEnclave", "A", "hA"), None, audit("policy.set"))
        .await
        .expect("other type");
    let stored = store.policies("alpha").await.expect("policies");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].attestation_type, "SgxEnclave");
    assert_eq!(stored[1].policy_text, "B");
    assert_eq!(stored[1].signer.as_deref(), Some(&[7u8, 7][..]));
    assert_eq!(
        store
            .reset_policy(
                "alpha",
                "SgxEnclave",
                g("reset:SgxEnclave", "hR"),
                audit("policy.reset")
            )
            .await
            .expect("reset")
            .as_deref(),
        Some("hash-of-B")
    );
    assert_eq!(
        store
            .reset_policy(
                "alpha",
                "SgxEnclave",
                g("reset:SgxEnclave", "hR"),
                audit("policy.reset")
            )
            .await
            .expect("no-op reset"),
        None
    );
    assert!(matches!(
        store
            .set_policy(
                &PolicyRecord {
                    provider: "ghost".into(),
                    ..policy("Tpm", "x", "h")
                },
                None,
                audit("policy.set")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));

    let cert = |t: &str| CertificateRecord {
        provider: "alpha".into(),
        thumbprint: t.into(),
        certificate: vec![1],
        added_at: 100,
    };
    assert!(
        store
            .add_policy_certificate(&cert("T1"), g("certificates:add", "c1"), audit("certificates.add"))
            .await
            .expect("add")
    );
    assert!(
        !store
            .add_policy_certificate(&cert("T1"), g("certificates:add", "c1"), audit("certificates.add"))
            .await
            .expect("again")
    );
    assert!(matches!(
        store
            .remove_policy_certificate(
                "alpha",
                "T1",
                g("certificates:remove", "c1"),
                audit("certificates.remove")
            )
            .await,
        Err(StoreError::LastCertificate)
    ));
    assert!(
        store
            .add_policy_certificate(&cert("T2"), g("certificates:add", "c2"), audit("certificates.add"))
            .await
            .expect("add 2")
    );
    assert!(
        store
            .remove_policy_certificate(
                "alpha",
                "T1",
                g("certificates:remove", "c1"),
                audit("certificates.remove")
            )
            .await
            .expect("remove")
    );
    // Re-adding T1 with the JWS used before is a replay.
    assert!(matches!(
        store
            .add_policy_certificate(&cert("T1"), g("certificates:add", "c1"), audit("certificates.add"))
            .await,
        Err(StoreError::Replay(_))
    ));
    let certs: Vec<_> = store
        .policy_certificates("alpha")
        .await
        .expect("certs")
        .into_iter()
        .map(|c| c.thumbprint)
        .collect();
    assert_eq!(certs, ["T2"]);
}

async fn revision(store: &Store, name: &str) -> i64 {
    store.provider(name).await.expect("provider").expect("exists").revision
}

async fn audit_and_collateral(store: &Store) {
    // Every successful change above wrote its audit entry inside its transaction; refused ones none.
    let all = store
        .audit(&AuditFilter {
            provider: Some("alpha".into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let sets = all.iter().filter(|a| a.operation == "policy.set").count();
    assert_eq!(sets, 4, "A, A again, B, OpenEnclave A");
    let set_b = all
        .iter()
        .find(|a| a.after_hash.as_deref() == Some("hash-of-B"))
        .expect("B's entry");
    assert_eq!(set_b.before_hash.as_deref(), Some("hash-of-A"));
    store
        .insert_audit(&[AuditRecord {
            at: 50,
            kind: "attestation".into(),
            operation: "attest".into(),
            ..audit("x")
        }])
        .await
        .expect("insert");
    let att = store
        .audit(&AuditFilter {
            kind: Some("attestation".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("filter");
    assert_eq!(att.len(), 1);
    assert_eq!(store.prune_audit(60).await.expect("prune"), 1);
    // A batch spanning several multi-row INSERTs (64 rows each) keeps every record and field.
    let batch: Vec<AuditRecord> = (0..130)
        .map(|i| AuditRecord {
            at: 1_000 + i,
            provider: "batch".into(),
            kind: "attestation".into(),
            attestation_type: Some("SgxEnclave".into()),
            error_code: (i % 2 == 0).then(|| format!("E{i}")),
            evidence_digest: Some(format!("d{i}")),
            duration_us: Some(i),
            ..audit("attest")
        })
        .collect();
    store.insert_audit(&batch).await.expect("batch insert");
    let mut back = store
        .audit(&AuditFilter {
            provider: Some("batch".into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .expect("batch");
    back.reverse();
    let back: Vec<AuditRecord> = back.into_iter().map(|r| AuditRecord { id: 0, ..r }).collect();
    assert_eq!(back, batch);

    assert_eq!(store.collateral("sgx/tcb/00906ED50000").await.expect("get"), None);
    store
        .put_collateral("sgx/tcb/00906ED50000", b"v1", 1, Some(10))
        .await
        .expect("put");
    store
        .put_collateral("sgx/tcb/00906ED50000", b"v2", 2, None)
        .await
        .expect("replace");
    store.put_collateral("snp/vcek/x", b"c", 2, None).await.expect("put");
    assert_eq!(
        store.collateral("sgx/tcb/00906ED50000").await.expect("get"),
        Some((b"v2".to_vec(), None))
    );
    assert_eq!(
        store.collateral_keys("sgx/").await.expect("keys"),
        ["sgx/tcb/00906ED50000"]
    );
}

/// Attester state is upserted with its history entry; lists and histories come newest first.
async fn attesters(store: &Store) {
    use attestd_store::{AttesterEvent, AttesterRecord};
    assert_eq!(store.attester("default", "Tpm", "aik1").await.expect("get"), None);
    let mut state = AttesterRecord {
        provider: "default".into(),
        attestation_type: "Tpm".into(),
        attester_id: "aik1".into(),
        first_seen: 100,
        last_seen: 100,
        last_outcome: "success".into(),
        baseline: Some(r#"{"PCR0":"aa"}"#.into()),
        baseline_at: Some(100),
        successes: 1,
        ..AttesterRecord::default()
    };
    let event = |at: i64, outcome: &str, alert: Option<&str>| AttesterEvent {
        provider: "default".into(),
        attestation_type: "Tpm".into(),
        attester_id: "aik1".into(),
        at,
        outcome: outcome.into(),
        alert: alert.map(str::to_owned),
        ..AttesterEvent::default()
    };
    store
        .save_attester(&state, &event(100, "success", None))
        .await
        .expect("save");
    state.last_seen = 200;
    state.last_outcome = "failure".into();
    state.last_error_code = Some("QuoteSignatureInvalid".into());
    state.failures = 1;
    store
        .save_attester(&state, &event(200, "failure", Some("AttestationFailed")))
        .await
        .expect("update");
    assert_eq!(
        store.attester("default", "Tpm", "aik1").await.expect("get"),
        Some(state.clone())
    );
    let other = AttesterRecord {
        attester_id: "aik2".into(),
        last_seen: 300,
        ..state.clone()
    };
    store
        .save_attester(
            &other,
            &AttesterEvent {
                attester_id: "aik2".into(),
                ..event(300, "success", None)
            },
        )
        .await
        .expect("save other");
    let ids: Vec<_> = store
        .attesters(Some("default"), 0)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.attester_id)
        .collect();
    assert_eq!(ids, ["aik2", "aik1"]);
    assert!(store.attesters(Some("nobody"), 0).await.expect("list").is_empty());
    let history = store
        .attester_events(Some("default"), "aik1", 0)
        .await
        .expect("history");
    let seen: Vec<_> = history.iter().map(|e| (e.at, e.alert.clone())).collect();
    assert_eq!(seen, [(200, Some("AttestationFailed".to_owned())), (100, None)]);
    assert_eq!(store.attester_events(None, "aik1", 1).await.expect("history").len(), 1);
    assert_eq!(store.prune_attester_events(150).await.expect("prune"), 1);
    assert_eq!(store.attester_events(None, "aik1", 0).await.expect("history").len(), 1);
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/attestd.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    exercise(&store).await;
    store.close().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database holds private keys");
    }
    // Reopening runs migrations again without harm and keeps the data.
    let store = Store::open(path.to_str().expect("utf8")).await.expect("reopen");
    assert_eq!(store.providers().await.expect("list").len(), 1, "alpha was deleted");
}

#[tokio::test]
async fn postgres_store() {
    let db = attestd_testkit::postgres_schema("store").await;
    let store = Store::open(&db.url).await.expect("open postgres");
    exercise(&store).await;
    let again = Store::open(&db.url).await.expect("reopen");
    assert_eq!(again.providers().await.expect("list").len(), 1, "alpha was deleted");
}
