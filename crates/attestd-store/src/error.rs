//! Store errors.

use thiserror::Error;

/// A failed store operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// Applying the schema migrations failed.
    #[error("cannot migrate the database schema: {0}")]
    Migrate(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A signed management request that was accepted before would change state again.
    #[error("this signed request was already applied once ({0}); sign a new one")]
    Replay(String),
    /// The last policy management certificate of a provider cannot be removed.
    #[error("the last policy management certificate cannot be removed")]
    LastCertificate,
    /// A file-system operation failed.
    #[error("{0}")]
    Io(String),
}

impl StoreError {
    pub(crate) fn connect(e: sqlx::Error) -> Self {
        StoreError::Connect(e.to_string())
    }

    pub(crate) fn migrate(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e.to_string())
    }

    pub(crate) fn query(e: sqlx::Error) -> Self {
        StoreError::Query(e.to_string())
    }
}
