//! Verified VCEK/VLEK chains, cached by the SHA-256 of the certificate's DER.
//!
//! The RSA-PSS chain signatures never change for given bytes, so they are checked once per
//! certificate; validity periods and CRLs depend on the time and are checked on every use.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_lc_rs::digest;

use super::crl::AmdCrl;
use super::roots::{AmdRoots, check_chain_time};
use super::unix_seconds;
use super::vek::Vek;
use crate::error::{ErrorCode, Result, SnpError};

/// A VCEK/VLEK whose chain to an AMD root has been verified (at the time it was handed out).
#[derive(Clone, Debug)]
pub struct VerifiedVek(Arc<Vek>);

impl Deref for VerifiedVek {
    type Target = Vek;
    fn deref(&self) -> &Vek {
        &self.0
    }
}

/// A bounded map from certificate digest to its verified, parsed form.
#[derive(Debug)]
pub struct VekCache {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Arc<Vek>>>,
}

impl Default for VekCache {
    fn default() -> Self {
        VekCache::new(4096)
    }
}

impl VekCache {
    /// A cache holding up to `capacity` certificates (it starts over when full).
    pub fn new(capacity: usize) -> VekCache {
        VekCache {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The number of cached certificates.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Vek>>> {
        // The map holds only verified entries, so one left by a panicking thread is still sound.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies the VCEK/VLEK `der` against `roots` at `now` (and against every CRL in `crls`),
    /// checking its signatures only the first time these bytes are seen.
    pub fn verify(&self, roots: &AmdRoots, der: &[u8], now: SystemTime, crls: &[AmdCrl]) -> Result<VerifiedVek> {
        let now = unix_seconds(now)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, der).as_ref());
        let cached = self.lock().get(&key).cloned();
        let vek = match cached {
            Some(v) => v,
            None => {
                let vek = Arc::new(Vek::parse(der)?);
                roots.verify_vek_signature(&vek)?;
                let mut map = self.lock();
                if map.len() >= self.capacity {
                    map.clear();
                }
                map.insert(key, Arc::clone(&vek));
                vek
            }
        };
        let generation_roots = roots.generation(vek.generation()).ok_or_else(|| {
            SnpError::new(
                ErrorCode::WrongGeneration,
                format!("no AMD roots are configured for {}", vek.generation()),
            )
        })?;
        check_chain_time(generation_roots, &vek, now, crls)?;
        Ok(VerifiedVek(vek))
    }
}
