//! The audit log: management operations and attestations.

use sqlx::Row;

use crate::{Pool, Store, StoreError};

/// One audit entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id (assigned by the database; ignored on insert).
    pub id: i64,
    /// Time, Unix seconds.
    pub at: i64,
    /// The provider concerned.
    pub provider: String,
    /// `management` or `attestation`.
    pub kind: String,
    /// What was done, e.g. `policy.set`, `certificates.add`, `attest`.
    pub operation: String,
    /// Who did it (token subject, certificate thumbprint, `cli`), if known.
    pub actor: Option<String>,
    /// The attestation type concerned.
    pub attestation_type: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// Policy hash (or other state digest) before a change.
    pub before_hash: Option<String>,
    /// Policy hash (or other state digest) after a change.
    pub after_hash: Option<String>,
    /// The policy hash an attestation was evaluated with.
    pub policy_hash: Option<String>,
    /// SHA-256 (hex) of the evidence of an attestation.
    pub evidence_digest: Option<String>,
    /// How long the operation took, in microseconds.
    pub duration_us: Option<i64>,
    /// Free-form detail (e.g. a certificate thumbprint).
    pub detail: Option<String>,
}

/// Which audit entries to return.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// At or after this time.
    pub since: Option<i64>,
    /// Before this time.
    pub until: Option<i64>,
    /// At most this many (newest first); 0 means 100.
    pub limit: i64,
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, provider, kind, operation, actor, attestation_type, \
     outcome, error_code, before_hash, after_hash, policy_hash, evidence_digest, duration_us, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// [`INSERT_AUDIT`] without its `VALUES`, for multi-row inserts.
const INSERT_AUDIT_COLUMNS: &str = "INSERT INTO audit_log (at, provider, kind, operation, actor, attestation_type, \
     outcome, error_code, before_hash, after_hash, policy_hash, evidence_digest, duration_us, detail) ";
/// Rows per multi-row insert: 14 parameters each stays far below SQLite's and PostgreSQL's limits.
const AUDIT_ROWS_PER_INSERT: usize = 64;

/// Binds an [`AuditRecord`] to [`INSERT_AUDIT`].
macro_rules! bind_audit {
    ($q:expr, $r:expr) => {
        $q.bind($r.at)
            .bind(&$r.provider)
            .bind(&$r.kind)
            .bind(&$r.operation)
            .bind(&$r.actor)
            .bind(&$r.attestation_type)
            .bind(&$r.outcome)
            .bind(&$r.error_code)
            .bind(&$r.before_hash)
            .bind(&$r.after_hash)
            .bind(&$r.policy_hash)
            .bind(&$r.evidence_digest)
            .bind($r.duration_us)
            .bind(&$r.detail)
    };
}
pub(crate) use bind_audit;

impl Store {
    /// Appends audit entries in one transaction (attestations are batched by the caller).
    pub async fn insert_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            // Multi-row INSERTs: one statement (one round trip to SQLite's worker thread) per
            // chunk instead of per record.
            for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
                let mut q = sqlx::QueryBuilder::new(INSERT_AUDIT_COLUMNS);
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(r.at)
                        .push_bind(&r.provider)
                        .push_bind(&r.kind)
                        .push_bind(&r.operation)
                        .push_bind(&r.actor)
                        .push_bind(&r.attestation_type)
                        .push_bind(&r.outcome)
                        .push_bind(&r.error_code)
                        .push_bind(&r.before_hash)
                        .push_bind(&r.after_hash)
                        .push_bind(&r.policy_hash)
                        .push_bind(&r.evidence_digest)
                        .push_bind(r.duration_us)
                        .push_bind(&r.detail);
                });
                q.build().execute(&mut *tx).await.map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)
        })
    }

    /// Audit entries matching `filter`, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        const SQL: &str = "SELECT id, at, provider, kind, operation, actor, attestation_type, outcome, error_code, \
             before_hash, after_hash, policy_hash, evidence_digest, duration_us, detail FROM audit_log \
             WHERE ($1 IS NULL OR provider = $1) AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR operation = $3) \
             AND ($4 IS NULL OR outcome = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
             ORDER BY id DESC LIMIT $7";
        let limit = if filter.limit <= 0 { 100 } else { filter.limit };
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(&filter.provider)
                .bind(&filter.kind)
                .bind(&filter.operation)
                .bind(&filter.outcome)
                .bind(filter.since)
                .bind(filter.until)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok(AuditRecord {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    provider: r.try_get("provider")?,
                    kind: r.try_get("kind")?,
                    operation: r.try_get("operation")?,
                    actor: r.try_get("actor")?,
                    attestation_type: r.try_get("attestation_type")?,
                    outcome: r.try_get("outcome")?,
                    error_code: r.try_get("error_code")?,
                    before_hash: r.try_get("before_hash")?,
                    after_hash: r.try_get("after_hash")?,
                    policy_hash: r.try_get("policy_hash")?,
                    evidence_digest: r.try_get("evidence_digest")?,
                    duration_us: r.try_get("duration_us")?,
                    detail: r.try_get("detail")?,
                }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// Deletes audit entries older than `before` (Unix seconds); returns how many.
    pub async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM audit_log WHERE at < $1";
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))
    }
}
