//! The persistent state of attestd: providers and their token signing keys.
//!
//! One [`Store`] type speaks to either embedded SQLite (a single node) or PostgreSQL (several
//! stateless nodes). Both run the same SQL text: sqlx accepts `$N` placeholders on SQLite, and the
//! schemas differ only in type names (`migrations/sqlite`, `migrations/postgres`).
//!
//! The store is deliberately plain: strings, integers and bytes. Typing and validation happen in
//! the service layer, which also keeps everything the hot path needs in memory: nothing here is
//! read per attestation.

#![forbid(unsafe_code)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Runs the same query-building expression against whichever pool the store has. The expression is
/// type-checked once per backend, so a query that one database cannot take fails to compile.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

mod attesters;
mod audit;
mod collateral;
mod error;
mod keys;
mod policies;
mod providers;

pub use attesters::{AttesterEvent, AttesterRecord};
pub use audit::{AuditFilter, AuditRecord};
pub use error::StoreError;
pub use policies::{CertificateRecord, PolicyRecord, ReplayGuard};

/// A provider row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRecord {
    /// Unique name (`default` for the provider at the root).
    pub name: String,
    /// `shared`, `token` or `isolated`.
    pub trust_model: String,
    /// JOSE algorithm of the provider's tokens, e.g. `RS256`.
    pub token_alg: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Other settings as a JSON object (token-auth issuer, ...), interpreted by the service.
    pub settings: String,
    /// Bumped by every change to the provider's policies or certificates.
    pub revision: i64,
}

/// A token signing key row.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The provider the key signs for.
    pub provider: String,
    /// MAA-rule key id.
    pub kid: String,
    /// JOSE algorithm.
    pub alg: String,
    /// How `private_key` is protected: `plain` (PKCS#8 DER) or `sealed-v1` (AES-256-GCM).
    pub protection: String,
    /// The private key, as `protection` says.
    pub private_key: Vec<u8>,
    /// DER of the self-signed certificate published in `/certs`.
    pub certificate: Vec<u8>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Whether this is the provider's current signing key.
    pub active: bool,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("provider", &self.provider)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("protection", &self.protection)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store: a connection pool to SQLite or PostgreSQL with the schema migrated.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens a store from a URL: `postgres://…` (or `postgresql://…`), or `sqlite://PATH` /
    /// a plain file path for SQLite. Migrations run before this returns.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self::open_sqlite(Path::new(path)).await
        }
    }

    /// Opens (creating if needed) an SQLite database file. A new file is created readable by its
    /// owner only, because it holds private keys.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives power loss, not only a killed process. Writes are
            // management operations, rare enough that the extra fsync does not matter.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::migrate)?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Connects to PostgreSQL and migrates the schema.
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::connect)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::connect)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::migrate)?;
        Ok(Store {
            pool: Pool::Postgres(pool),
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()).map_err(StoreError::query))
    }

    /// Closes every connection; pending writes are already durable.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Opening a transaction that will write. SQLite needs `BEGIN IMMEDIATE`: a deferred transaction
/// that reads first and writes later fails at once (instead of waiting) when another writer holds
/// the lock. PostgreSQL serializes writers of one provider by updating the provider row first.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Creates `path` (and its directory) with owner-only permissions if it does not exist yet.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(format!("{}: {e}", path.display()))),
    }
}
