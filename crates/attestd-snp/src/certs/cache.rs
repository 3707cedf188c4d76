//! Verified VCEK/VLEK chains, cached by the certificate's DER.
//!
//! The RSA-PSS chain signatures never change for given bytes, so they are checked once per
//! certificate; validity periods and CRLs depend on the time and are checked on every use.
//!
//! Entries are found by the DER's last 32 bytes (the end of the certificate's 512-byte RSA-PSS
//! signature, which differs between any two certificates the ASK signs) and used only if the
//! whole DER is equal: a comparison of ~1.3 KB instead of its SHA-256 on every report.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

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

/// The lookup key of a certificate: its last `KEY_LEN` bytes (fewer, zero-padded, if shorter).
const KEY_LEN: usize = 32;

fn key(der: &[u8]) -> [u8; KEY_LEN] {
    let tail = &der[der.len().saturating_sub(KEY_LEN)..];
    let mut key = [0u8; KEY_LEN];
    key[..tail.len()].copy_from_slice(tail);
    key
}

/// A bounded map from certificate bytes to their verified, parsed form.
#[derive(Debug)]
pub struct VekCache {
    capacity: usize,
    entries: Mutex<HashMap<[u8; KEY_LEN], Arc<Vek>>>,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; KEY_LEN], Arc<Vek>>> {
        // The map holds only verified entries, so one left by a panicking thread is still sound.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Verifies the VCEK/VLEK `der` against `roots` at `now` (and against every CRL in `crls`),
    /// checking its signatures only the first time these bytes are seen.
    pub fn verify(&self, roots: &AmdRoots, der: &[u8], now: SystemTime, crls: &[AmdCrl]) -> Result<VerifiedVek> {
        let now = unix_seconds(now)?;
        let key = key(der);
        // An entry with the same tail but other bytes is a miss: those bytes are verified and,
        // if they verify, take the slot.
        let cached = self.lock().get(&key).filter(|v| v.der() == der).cloned();
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
