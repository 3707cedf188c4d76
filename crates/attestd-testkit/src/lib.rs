//! Test harness for attestd: where the shared vectors are, a PostgreSQL schema per test, and a real
//! `attestd serve` process reached over HTTPS.
//!
//! Missing prerequisites (the vectors folder, PostgreSQL) fail the test with a message that says
//! what to do; they never turn into a silent skip.

#![forbid(unsafe_code)]

pub mod azure;
pub mod dcap;
mod server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub use server::{TestServer, client_builder, https_client, https_client_alpn};

/// The checkout's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The real-hardware evidence: `$ATTESTD_VECTORS`, or `../shared/vectors` beside the checkout.
///
/// # Panics
/// If the folder does not exist: tests that need real evidence must not pass without it.
pub fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("ATTESTD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/vectors"));
    assert!(
        dir.join("CATALOG.md").is_file(),
        "the shared test vectors are missing at {}: set ATTESTD_VECTORS to the vectors folder",
        dir.display()
    );
    dir
}

/// The PostgreSQL server tests use: `$ATTESTD_TEST_POSTGRES`, default the local `test` database.
pub fn postgres_url() -> String {
    std::env::var("ATTESTD_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh PostgreSQL schema for one test.
#[derive(Debug, Clone)]
pub struct PgSchema {
    /// The schema's name.
    pub name: String,
    /// A connection URL whose `search_path` is the schema.
    pub url: String,
}

/// Creates a new, empty schema in the test database and returns a URL that uses it.
///
/// # Panics
/// If PostgreSQL cannot be reached.
pub async fn postgres_schema(prefix: &str) -> PgSchema {
    use sqlx::Connection;
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{prefix}_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let base = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({base}): {e}; set ATTESTD_TEST_POSTGRES"));
    // The name is made here from a prefix, the pid, a counter and a clock: no outside input.
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    PgSchema {
        url: format!("{base}{sep}options[search_path]={name}"),
        name,
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (e.g. a PEM chain as PCS sends
/// it in a response header).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
