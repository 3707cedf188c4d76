//! Token signing keys.

use sqlx::Row;

use crate::{Pool, SigningKeyRecord, Store, StoreError};

impl Store {
    /// Inserts a signing key. An active key is only inserted if the provider has no active key yet
    /// (two nodes racing to create the first key both end up using the winner's). Returns whether
    /// the key was inserted.
    pub async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO signing_keys \
                           (provider, kid, alg, protection, private_key, certificate, created_at, active) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        let affected = on_pool!(self, pool => sqlx::query(SQL)
            .bind(&k.provider)
            .bind(&k.kid)
            .bind(&k.alg)
            .bind(&k.protection)
            .bind(&k.private_key)
            .bind(&k.certificate)
            .bind(k.created_at)
            .bind(i64::from(k.active))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))?;
        Ok(affected == 1)
    }

    /// Every signing key of a provider, the active one first, then newest first.
    pub async fn signing_keys(&self, provider: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        const SQL: &str = "SELECT provider, kid, alg, protection, private_key, certificate, created_at, active \
                           FROM signing_keys WHERE provider = $1 ORDER BY active DESC, created_at DESC, kid";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(provider).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok(SigningKeyRecord {
                    provider: r.try_get("provider")?,
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    protection: r.try_get("protection")?,
                    private_key: r.try_get("private_key")?,
                    certificate: r.try_get("certificate")?,
                    created_at: r.try_get("created_at")?,
                    active: r.try_get::<i64, _>("active")? == 1,
                }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// Replaces the certificate of a key (e.g. after the provider's issuer URL changed; the key and
    /// its `kid` stay the same).
    pub async fn set_signing_certificate(
        &self,
        provider: &str,
        kid: &str,
        certificate: &[u8],
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE signing_keys SET certificate = $1 WHERE provider = $2 AND kid = $3";
        let affected = on_pool!(self, pool => sqlx::query(SQL)
            .bind(certificate)
            .bind(provider)
            .bind(kid)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))?;
        if affected == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!(
                "signing key '{kid}' of provider '{provider}'"
            )))
        }
    }
}
