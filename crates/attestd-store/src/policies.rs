//! Policies and policy management certificates. Every change is one transaction that also records
//! the audit entry and, for signed requests, the request's hash for replay protection: a change is
//! either complete with its audit trail or absent.

use sqlx::Row;

use crate::audit::{INSERT_AUDIT, bind_audit};
use crate::providers::bump_revision;
use crate::{AuditRecord, Pool, Store, StoreError, WritePool};

/// A stored policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    /// The provider.
    pub provider: String,
    /// The attestation type, e.g. `SgxEnclave`.
    pub attestation_type: String,
    /// The policy text, byte-exact as uploaded.
    pub policy_text: String,
    /// Its `x-ms-policy-hash`.
    pub policy_hash: String,
    /// The JWS as uploaded (returned by GET as `x-ms-policy`).
    pub policy_jws: String,
    /// SHA-256 (base64url) of the JWS as uploaded (`x-ms-policy-token-hash`).
    pub token_hash: String,
    /// DER of the certificate that signed it, if it was signed.
    pub signer: Option<Vec<u8>>,
    /// Time of the change, Unix seconds.
    pub updated_at: i64,
}

/// A policy management certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// The provider.
    pub provider: String,
    /// Upper-case hex SHA-1 of the DER (MAA's thumbprint).
    pub thumbprint: String,
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// Time it was added, Unix seconds.
    pub added_at: i64,
}

/// Replay protection for a signed management request: the request's hash and the operation it was
/// accepted for. A request accepted before is refused if applying it again would change anything.
#[derive(Clone, Copy, Debug)]
pub struct ReplayGuard<'a> {
    /// Operation scope, e.g. `set:SgxEnclave`.
    pub scope: &'a str,
    /// SHA-256 (base64url) of the JWS.
    pub token_hash: &'a str,
}

/// Locks the provider row for the rest of the transaction (and bumps its revision), or returns
/// NotFound from the caller.
macro_rules! lock_provider {
    ($tx:expr, $provider:expr) => {
        if !bump_revision!($tx, $provider).map_err(StoreError::query)? {
            return Err(StoreError::NotFound(format!("provider '{}'", $provider)));
        }
    };
}

/// Refuses (returns `Replay` from the caller) a guarded request that was accepted before, unless
/// applying it again changes nothing.
macro_rules! check_replay {
    ($tx:expr, $provider:expr, $guard:expr, $noop:expr) => {
        if let Some(g) = $guard {
            let seen = sqlx::query("SELECT 1 FROM accepted_jws WHERE provider = $1 AND scope = $2 AND token_hash = $3")
                .bind($provider)
                .bind(g.scope)
                .bind(g.token_hash)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(StoreError::query)?
                .is_some();
            if seen && !$noop {
                return Err(StoreError::Replay(g.scope.to_owned()));
            }
        }
    };
}

macro_rules! certificate_present {
    ($tx:expr, $provider:expr, $thumbprint:expr) => {
        sqlx::query("SELECT 1 FROM policy_certificates WHERE provider = $1 AND thumbprint = $2")
            .bind($provider)
            .bind($thumbprint)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(StoreError::query)?
            .is_some()
    };
}

/// Records the guard's hash and the audit entry, then commits.
macro_rules! finish_change {
    ($tx:expr, $provider:expr, $guard:expr, $audit:expr, $now:expr) => {{
        if let Some(g) = $guard {
            sqlx::query(
                "INSERT INTO accepted_jws (provider, scope, token_hash, accepted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind($provider)
            .bind(g.scope)
            .bind(g.token_hash)
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?;
        }
        bind_audit!(sqlx::query(INSERT_AUDIT), $audit)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query)?;
        $tx.commit().await.map_err(StoreError::query)
    }};
}

macro_rules! current_policy_hash {
    ($tx:expr, $provider:expr, $t:expr) => {
        sqlx::query("SELECT policy_hash, token_hash FROM policies WHERE provider = $1 AND attestation_type = $2")
            .bind($provider)
            .bind($t)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(StoreError::query)?
            .map(|r| -> Result<(String, String), sqlx::Error> {
                Ok((r.try_get("policy_hash")?, r.try_get("token_hash")?))
            })
            .transpose()
            .map_err(StoreError::query)?
    };
}

impl Store {
    /// Every stored policy of a provider.
    pub async fn policies(&self, provider: &str) -> Result<Vec<PolicyRecord>, StoreError> {
        const SQL: &str = "SELECT provider, attestation_type, policy_text, policy_hash, policy_jws, token_hash, signer, \
                           updated_at FROM policies WHERE provider = $1 ORDER BY attestation_type";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(provider).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok(PolicyRecord {
                    provider: r.try_get("provider")?,
                    attestation_type: r.try_get("attestation_type")?,
                    policy_text: r.try_get("policy_text")?,
                    policy_hash: r.try_get("policy_hash")?,
                    policy_jws: r.try_get("policy_jws")?,
                    token_hash: r.try_get("token_hash")?,
                    signer: r.try_get("signer")?,
                    updated_at: r.try_get("updated_at")?,
                }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// Stores a policy, replacing the current one, with its audit entry (whose `before_hash` and
    /// `after_hash` are filled in here). Returns the previous policy hash.
    pub async fn set_policy(
        &self,
        rec: &PolicyRecord,
        guard: Option<ReplayGuard<'_>>,
        mut audit: AuditRecord,
    ) -> Result<Option<String>, StoreError> {
        const UPSERT: &str = "INSERT INTO policies (provider, attestation_type, policy_text, policy_hash, policy_jws, \
             token_hash, signer, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (provider, attestation_type) DO UPDATE SET policy_text = excluded.policy_text, \
             policy_hash = excluded.policy_hash, policy_jws = excluded.policy_jws, token_hash = excluded.token_hash, \
             signer = excluded.signer, updated_at = excluded.updated_at";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query)?;
            lock_provider!(tx, &rec.provider);
            let current = current_policy_hash!(tx, &rec.provider, &rec.attestation_type);
            let noop = current.as_ref().is_some_and(|(_, t)| *t == rec.token_hash);
            check_replay!(tx, &rec.provider, guard, noop);
            sqlx::query(UPSERT)
                .bind(&rec.provider)
                .bind(&rec.attestation_type)
                .bind(&rec.policy_text)
                .bind(&rec.policy_hash)
                .bind(&rec.policy_jws)
                .bind(&rec.token_hash)
                .bind(&rec.signer)
                .bind(rec.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let before = current.map(|(h, _)| h);
            audit.before_hash = before.clone();
            audit.after_hash = Some(rec.policy_hash.clone());
            finish_change!(tx, &rec.provider, guard, &audit, rec.updated_at)?;
            Ok(before)
        })
    }

    /// Removes a provider's policy for a type (the default applies again). Returns the removed
    /// policy's hash, `None` if there was none.
    pub async fn reset_policy(
        &self,
        provider: &str,
        attestation_type: &str,
        guard: Option<ReplayGuard<'_>>,
        mut audit: AuditRecord,
    ) -> Result<Option<String>, StoreError> {
        const DELETE: &str = "DELETE FROM policies WHERE provider = $1 AND attestation_type = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query)?;
            lock_provider!(tx, provider);
            let current = current_policy_hash!(tx, provider, attestation_type);
            check_replay!(tx, provider, guard, current.is_none());
            sqlx::query(DELETE)
                .bind(provider)
                .bind(attestation_type)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            let before = current.map(|(h, _)| h);
            audit.before_hash = before.clone();
            audit.after_hash = None;
            finish_change!(tx, provider, guard, &audit, audit.at)?;
            Ok(before)
        })
    }

    /// A provider's policy management certificates, oldest first.
    pub async fn policy_certificates(&self, provider: &str) -> Result<Vec<CertificateRecord>, StoreError> {
        const SQL: &str = "SELECT provider, thumbprint, certificate, added_at FROM policy_certificates \
                           WHERE provider = $1 ORDER BY added_at, thumbprint";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(provider).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok(CertificateRecord {
                    provider: r.try_get("provider")?,
                    thumbprint: r.try_get("thumbprint")?,
                    certificate: r.try_get("certificate")?,
                    added_at: r.try_get("added_at")?,
                }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// Adds a policy management certificate. Returns false if it was already present.
    pub async fn add_policy_certificate(
        &self,
        rec: &CertificateRecord,
        guard: Option<ReplayGuard<'_>>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        const INSERT: &str = "INSERT INTO policy_certificates (provider, thumbprint, certificate, added_at) \
                              VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query)?;
            lock_provider!(tx, &rec.provider);
            let present = certificate_present!(tx, &rec.provider, &rec.thumbprint);
            check_replay!(tx, &rec.provider, guard, present);
            let added = sqlx::query(INSERT)
                .bind(&rec.provider)
                .bind(&rec.thumbprint)
                .bind(&rec.certificate)
                .bind(rec.added_at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?
                .rows_affected()
                == 1;
            finish_change!(tx, &rec.provider, guard, &audit, rec.added_at)?;
            Ok(added)
        })
    }

    /// Removes a policy management certificate. Returns false if it was not present. The last
    /// certificate of a provider cannot be removed (`StoreError::LastCertificate`).
    pub async fn remove_policy_certificate(
        &self,
        provider: &str,
        thumbprint: &str,
        guard: Option<ReplayGuard<'_>>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        const COUNT: &str = "SELECT COUNT(*) AS n FROM policy_certificates WHERE provider = $1";
        const DELETE: &str = "DELETE FROM policy_certificates WHERE provider = $1 AND thumbprint = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query)?;
            lock_provider!(tx, provider);
            let present = certificate_present!(tx, provider, thumbprint);
            check_replay!(tx, provider, guard, !present);
            if present {
                let n: i64 = sqlx::query(COUNT)
                    .bind(provider)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| r.try_get("n"))
                    .map_err(StoreError::query)?;
                if n <= 1 {
                    return Err(StoreError::LastCertificate);
                }
            }
            let removed = sqlx::query(DELETE)
                .bind(provider)
                .bind(thumbprint)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?
                .rows_affected()
                == 1;
            finish_change!(tx, provider, guard, &audit, audit.at)?;
            Ok(removed)
        })
    }
}
