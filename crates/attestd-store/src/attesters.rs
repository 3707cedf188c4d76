//! Attester monitoring: the last known state of each attesting machine and its history.
//!
//! Rows are written by the service's monitor task, off the request path, one attestation at a
//! time; reads serve the CLI and the admin API.

use sqlx::Row;

use crate::{Pool, Store, StoreError};

/// The last known state of one attester (machine) of a provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttesterRecord {
    /// The provider the attester attests to.
    pub provider: String,
    /// The attestation type, e.g. `Tpm`.
    pub attestation_type: String,
    /// The attester's stable identity (TPM: the AIK's `aikPubHash`).
    pub attester_id: String,
    /// First attestation seen, Unix seconds.
    pub first_seen: i64,
    /// Latest attestation seen, Unix seconds.
    pub last_seen: i64,
    /// `success` or `failure`: the verdict of the latest attestation.
    pub last_outcome: String,
    /// The error code of the latest attestation, when it failed.
    pub last_error_code: Option<String>,
    /// The measurements of the latest successful attestation (a JSON object), the baseline that
    /// the next one is compared with.
    pub baseline: Option<String>,
    /// When the baseline was taken, Unix seconds.
    pub baseline_at: Option<i64>,
    /// Successful attestations so far.
    pub successes: i64,
    /// Failed attestations so far.
    pub failures: i64,
}

/// One attestation in an attester's history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttesterEvent {
    /// Row id (assigned by the database; ignored on insert).
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The attestation type.
    pub attestation_type: String,
    /// The attester's identity.
    pub attester_id: String,
    /// Time, Unix seconds.
    pub at: i64,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// The measurements this attestation carried (a JSON object), when it got that far.
    pub measurements: Option<String>,
    /// The alert this attestation raised (e.g. `MeasurementsChanged`), if any.
    pub alert: Option<String>,
    /// Free-form detail (e.g. which measurements changed).
    pub detail: Option<String>,
}

// Column lists as macros: sqlx takes only static SQL text, so queries are put together with concat!.
macro_rules! columns {
    () => {
        "provider, attestation_type, attester_id, first_seen, last_seen, last_outcome, last_error_code, \
         baseline, baseline_at, successes, failures"
    };
}
macro_rules! event_columns {
    () => {
        "id, provider, attestation_type, attester_id, at, outcome, error_code, measurements, alert, detail"
    };
}

/// Row decoding shared by both backends.
trait RowLike {
    fn record(&self) -> Result<AttesterRecord, sqlx::Error>;
    fn event(&self) -> Result<AttesterEvent, sqlx::Error>;
}

macro_rules! row_like {
    ($row:ty) => {
        impl RowLike for $row {
            fn record(&self) -> Result<AttesterRecord, sqlx::Error> {
                Ok(AttesterRecord {
                    provider: self.try_get("provider")?,
                    attestation_type: self.try_get("attestation_type")?,
                    attester_id: self.try_get("attester_id")?,
                    first_seen: self.try_get("first_seen")?,
                    last_seen: self.try_get("last_seen")?,
                    last_outcome: self.try_get("last_outcome")?,
                    last_error_code: self.try_get("last_error_code")?,
                    baseline: self.try_get("baseline")?,
                    baseline_at: self.try_get("baseline_at")?,
                    successes: self.try_get("successes")?,
                    failures: self.try_get("failures")?,
                })
            }

            fn event(&self) -> Result<AttesterEvent, sqlx::Error> {
                Ok(AttesterEvent {
                    id: self.try_get("id")?,
                    provider: self.try_get("provider")?,
                    attestation_type: self.try_get("attestation_type")?,
                    attester_id: self.try_get("attester_id")?,
                    at: self.try_get("at")?,
                    outcome: self.try_get("outcome")?,
                    error_code: self.try_get("error_code")?,
                    measurements: self.try_get("measurements")?,
                    alert: self.try_get("alert")?,
                    detail: self.try_get("detail")?,
                })
            }
        }
    };
}
row_like!(sqlx::sqlite::SqliteRow);
row_like!(sqlx::postgres::PgRow);

impl Store {
    /// The state of one attester, if it has attested before.
    pub async fn attester(
        &self,
        provider: &str,
        attestation_type: &str,
        attester_id: &str,
    ) -> Result<Option<AttesterRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM attesters WHERE provider = $1 AND attestation_type = $2 AND attester_id = $3"
        );
        on_pool!(self, pool => {
            let row = sqlx::query(SQL)
                .bind(provider)
                .bind(attestation_type)
                .bind(attester_id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query)?;
            row.as_ref().map(RowLike::record).transpose().map_err(StoreError::query)
        })
    }

    /// Writes an attester's new state and the history entry that led to it, in one transaction.
    pub async fn save_attester(&self, state: &AttesterRecord, event: &AttesterEvent) -> Result<(), StoreError> {
        const UPSERT: &str = concat!(
            "INSERT INTO attesters (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (provider, attestation_type, attester_id) DO UPDATE SET last_seen = $5, \
             last_outcome = $6, last_error_code = $7, baseline = $8, baseline_at = $9, successes = $10, \
             failures = $11"
        );
        const INSERT: &str = "INSERT INTO attester_events (provider, attestation_type, attester_id, at, outcome, \
             error_code, measurements, alert, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            sqlx::query(UPSERT)
                .bind(&state.provider)
                .bind(&state.attestation_type)
                .bind(&state.attester_id)
                .bind(state.first_seen)
                .bind(state.last_seen)
                .bind(&state.last_outcome)
                .bind(&state.last_error_code)
                .bind(&state.baseline)
                .bind(state.baseline_at)
                .bind(state.successes)
                .bind(state.failures)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            sqlx::query(INSERT)
                .bind(&event.provider)
                .bind(&event.attestation_type)
                .bind(&event.attester_id)
                .bind(event.at)
                .bind(&event.outcome)
                .bind(&event.error_code)
                .bind(&event.measurements)
                .bind(&event.alert)
                .bind(&event.detail)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query)?;
            tx.commit().await.map_err(StoreError::query)
        })
    }

    /// The attesters of `provider` (every provider when `None`), most recently seen first; at
    /// most `limit` (0 means 100).
    pub async fn attesters(&self, provider: Option<&str>, limit: i64) -> Result<Vec<AttesterRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM attesters WHERE ($1 IS NULL OR provider = $1) ORDER BY last_seen DESC, attester_id LIMIT $2"
        );
        let limit = if limit <= 0 { 100 } else { limit };
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(provider)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?;
            rows.iter().map(RowLike::record).collect::<Result<Vec<_>, _>>().map_err(StoreError::query)
        })
    }

    /// The history of attester `attester_id` (of `provider`, or of any provider when `None`),
    /// newest first; at most `limit` entries (0 means 100).
    pub async fn attester_events(
        &self,
        provider: Option<&str>,
        attester_id: &str,
        limit: i64,
    ) -> Result<Vec<AttesterEvent>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            event_columns!(),
            " FROM attester_events WHERE ($1 IS NULL OR provider = $1) AND attester_id = $2 ORDER BY id DESC LIMIT $3"
        );
        let limit = if limit <= 0 { 100 } else { limit };
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(provider)
                .bind(attester_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query)?;
            rows.iter().map(RowLike::event).collect::<Result<Vec<_>, _>>().map_err(StoreError::query)
        })
    }

    /// Deletes attester history older than `before` (Unix seconds); returns how many entries.
    pub async fn prune_attester_events(&self, before: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM attester_events WHERE at < $1";
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))
    }
}
