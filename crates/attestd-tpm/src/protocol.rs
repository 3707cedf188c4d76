//! MAA's TPM attestation protocol messages (reference E.2) and the stateless service context.
//!
//! The server keeps no per-session state: the challenge travels inside `service_context`,
//! sealed with AES-256-GCM under a key every node shares, bound to the provider and to an
//! expiry. A context from another provider, a tampered one, or an expired one is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::quote::QuoteError;

/// Length of a challenge in bytes.
pub const CHALLENGE_LEN: usize = 32;

/// How long a challenge may be answered.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);

/// The server's challenge message: `{"challenge", "service_context"}` (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Random bytes the quote must carry (base64url).
    pub challenge: String,
    /// The sealed context to echo back (base64url).
    pub service_context: String,
}

/// Seals and opens service contexts.
pub struct ContextSealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for ContextSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextSealer(<key>)")
    }
}

/// What an opened context says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The challenge issued.
    pub challenge: Vec<u8>,
    /// When it stops being accepted.
    pub expires: SystemTime,
}

fn err(code: &'static str, message: impl Into<String>) -> QuoteError {
    QuoteError::new(code, message)
}

impl ContextSealer {
    /// A sealer with a 32-byte key (kept by the service, the same on every node).
    pub fn new(key: &[u8; 32]) -> Result<ContextSealer, QuoteError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| err("InternalError", "context key"))?;
        Ok(ContextSealer {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// A fresh challenge for `provider`, valid for [`CHALLENGE_LIFETIME`] from `now`.
    pub fn challenge(&self, provider: &str, now: SystemTime) -> Result<Challenge, QuoteError> {
        let mut challenge = [0u8; CHALLENGE_LEN];
        self.rng
            .fill(&mut challenge)
            .map_err(|_| err("InternalError", "random challenge"))?;
        let expires = (now + CHALLENGE_LIFETIME)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // Plaintext: expiry (u64 BE) ‖ challenge; the provider is bound as associated data.
        let mut plain = expires.to_be_bytes().to_vec();
        plain.extend_from_slice(&challenge);
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| err("InternalError", "random nonce"))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(provider.as_bytes()),
                &mut plain,
            )
            .map_err(|_| err("InternalError", "sealing the service context"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend(plain);
        Ok(Challenge {
            challenge: URL_SAFE_NO_PAD.encode(challenge),
            service_context: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Opens a context echoed by the client for `provider`, refusing tampered, foreign and
    /// expired ones.
    pub fn open(&self, provider: &str, service_context: &str, now: SystemTime) -> Result<Context, QuoteError> {
        let invalid = || {
            err(
                "ServiceContextInvalid",
                "service_context was not issued by this service for this provider, or was altered",
            )
        };
        let sealed = URL_SAFE_NO_PAD
            .decode(service_context.trim_end_matches('='))
            .map_err(|_| invalid())?;
        if sealed.len() < NONCE_LEN + 8 + CHALLENGE_LEN + AES_256_GCM.tag_len() {
            return Err(invalid());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut rest = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(provider.as_bytes()), &mut rest)
            .map_err(|_| invalid())?;
        let (expiry, challenge) = plain.split_at(8);
        let mut e = [0u8; 8];
        e.copy_from_slice(expiry);
        let expires = UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(e));
        if now > expires {
            return Err(err(
                "ChallengeExpired",
                "the challenge expired; start the protocol again",
            ));
        }
        Ok(Context {
            challenge: challenge.to_vec(),
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> ContextSealer {
        ContextSealer::new(&[7u8; 32]).expect("sealer")
    }

    #[test]
    fn contexts_round_trip_and_bind_provider_and_time() {
        let s = sealer();
        let now = SystemTime::now();
        let c = s.challenge("p1", now).expect("challenge");
        let opened = s.open("p1", &c.service_context, now).expect("opens");
        assert_eq!(URL_SAFE_NO_PAD.encode(&opened.challenge), c.challenge);
        // Another provider, another key, a flipped byte, expiry: each refused.
        assert_eq!(
            s.open("p2", &c.service_context, now).expect_err("provider").code,
            "ServiceContextInvalid"
        );
        let other = ContextSealer::new(&[8u8; 32]).expect("sealer");
        assert_eq!(
            other.open("p1", &c.service_context, now).expect_err("key").code,
            "ServiceContextInvalid"
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&c.service_context).expect("b64");
        raw[20] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(
            s.open("p1", &tampered, now).expect_err("tampered").code,
            "ServiceContextInvalid"
        );
        let late = now + CHALLENGE_LIFETIME + Duration::from_secs(2);
        assert_eq!(
            s.open("p1", &c.service_context, late).expect_err("late").code,
            "ChallengeExpired"
        );
        assert_eq!(
            s.open("p1", "garbage!", now).expect_err("garbage").code,
            "ServiceContextInvalid"
        );
        assert_eq!(s.open("p1", "", now).expect_err("empty").code, "ServiceContextInvalid");
        // Two challenges differ.
        assert_ne!(s.challenge("p1", now).expect("c").challenge, c.challenge);
    }
}
