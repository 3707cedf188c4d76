//! The same behaviour on SQLite and PostgreSQL.

use attestd_store::{ProviderRecord, SigningKeyRecord, Store};

fn provider(name: &str) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model: "shared".to_owned(),
        token_alg: "RS256".to_owned(),
        created_at: 1_700_000_000,
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
    assert_eq!(store.providers().await.expect("list").len(), 2);
}

#[tokio::test]
async fn postgres_store() {
    let db = attestd_testkit::postgres_schema("store").await;
    let store = Store::open(&db.url).await.expect("open postgres");
    exercise(&store).await;
    let again = Store::open(&db.url).await.expect("reopen");
    assert_eq!(again.providers().await.expect("list").len(), 2);
}
