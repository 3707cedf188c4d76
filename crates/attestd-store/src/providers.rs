//! Providers.

use sqlx::Row;

use crate::{Pool, ProviderRecord, Store, StoreError};

macro_rules! provider_from_row {
    ($r:expr) => {
        ProviderRecord {
            name: $r.try_get("name")?,
            trust_model: $r.try_get("trust_model")?,
            token_alg: $r.try_get("token_alg")?,
            created_at: $r.try_get("created_at")?,
            settings: $r.try_get("settings")?,
            revision: $r.try_get("revision")?,
        }
    };
}

impl Store {
    /// Inserts a provider unless one of that name exists. Returns whether it was inserted.
    pub async fn insert_provider(&self, p: &ProviderRecord) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO providers (name, trust_model, token_alg, created_at, settings, revision) \
                           VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING";
        let affected = on_pool!(self, pool => sqlx::query(SQL)
            .bind(&p.name)
            .bind(&p.trust_model)
            .bind(&p.token_alg)
            .bind(p.created_at)
            .bind(&p.settings)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))?;
        Ok(affected == 1)
    }

    /// The provider of that name.
    pub async fn provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        const SQL: &str =
            "SELECT name, trust_model, token_alg, created_at, settings, revision FROM providers WHERE name = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(name).fetch_optional(pool).await.map_err(StoreError::query)?;
            row.map(|r| Ok(provider_from_row!(r))).transpose().map_err(StoreError::query)
        })
    }

    /// Every provider, by name.
    pub async fn providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        const SQL: &str =
            "SELECT name, trust_model, token_alg, created_at, settings, revision FROM providers ORDER BY name";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok(provider_from_row!(r)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// The revision of every provider, for cache refresh across nodes.
    pub async fn provider_revisions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT name, revision FROM providers";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await.map_err(StoreError::query)?;
            rows.iter()
                .map(|r| Ok((r.try_get("name")?, r.try_get("revision")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::query)
        })
    }

    /// Replaces a provider's settings (a JSON object) and bumps its revision.
    pub async fn set_provider_settings(&self, name: &str, settings: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE providers SET settings = $1, revision = revision + 1 WHERE name = $2";
        let affected = on_pool!(self, pool => sqlx::query(SQL)
            .bind(settings)
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))?;
        if affected == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("provider '{name}'")))
        }
    }

    /// Deletes a provider with its keys, policies and certificates. Returns whether it existed.
    pub async fn delete_provider(&self, name: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM providers WHERE name = $1";
        let affected = on_pool!(self, pool => sqlx::query(SQL)
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query))?;
        Ok(affected == 1)
    }
}

/// Locks the provider row for the rest of the transaction and bumps its revision; returns whether
/// the provider exists. Every write to a provider's policies or certificates starts with this, so
/// writers of one provider are serialized on both databases.
macro_rules! bump_revision {
    ($tx:expr, $provider:expr) => {
        sqlx::query("UPDATE providers SET revision = revision + 1 WHERE name = $1")
            .bind($provider)
            .execute(&mut *$tx)
            .await
            .map(|r| r.rows_affected() == 1)
    };
}
pub(crate) use bump_revision;

impl Store {
    /// A service-wide value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT value FROM service_meta WHERE key = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(key).fetch_optional(pool).await.map_err(StoreError::query)?;
            row.map(|r| r.try_get("value")).transpose().map_err(StoreError::query)
        })
    }

    /// Sets a service-wide value unless it is set; returns the value now stored (so that two nodes
    /// racing to set it agree on one).
    pub async fn init_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        const SQL: &str = "INSERT INTO service_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        on_pool!(self, pool => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(|_| ()).map_err(StoreError::query))?;
        self.meta(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("meta '{key}'")))
    }

    /// Replaces a service-wide value.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO service_meta (key, value) VALUES ($1, $2) \
                           ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        on_pool!(self, pool => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(|_| ()).map_err(StoreError::query))
    }
}
