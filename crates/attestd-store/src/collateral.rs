//! Collateral fetched from vendor services (Intel PCS, AMD KDS), kept so that a restart or another
//! node does not fetch it again and so that attestation works offline.

use sqlx::Row;

use crate::{Pool, Store, StoreError};

impl Store {
    /// The stored body for `key` with its `next_update` (Unix seconds), if any.
    pub async fn collateral(&self, key: &str) -> Result<Option<(Vec<u8>, Option<i64>)>, StoreError> {
        const SQL: &str = "SELECT body, next_update FROM collateral WHERE key = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(key).fetch_optional(pool).await.map_err(StoreError::query)?;
            row.map(|r| Ok((r.try_get("body")?, r.try_get("next_update")?)))
                .transpose()
                .map_err(StoreError::query)
        })
    }

    /// Stores (or replaces) the body for `key`.
    pub async fn put_collateral(
        &self,
        key: &str,
        body: &[u8],
        fetched_at: i64,
        next_update: Option<i64>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO collateral (key, body, fetched_at, next_update) VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at, \
                           next_update = excluded.next_update";
        on_pool!(self, pool => sqlx::query(SQL)
            .bind(key)
            .bind(body)
            .bind(fetched_at)
            .bind(next_update)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(StoreError::query))
    }

    /// Keys of stored collateral starting with `prefix`.
    pub async fn collateral_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT key FROM collateral WHERE substr(key, 1, length($1)) = $1 ORDER BY key";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(prefix).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| r.try_get("key"))
                .collect::<Result<Vec<String>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }
}
