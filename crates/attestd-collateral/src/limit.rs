//! A minimum interval between requests to one vendor service.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::CollateralError;

/// Spaces requests to a service at least `interval` apart. A caller that would have to wait longer
/// than `max_wait` gets [`CollateralError::RateLimited`] at once instead of holding its HTTP request
/// open; the service answers the attester with a retryable error.
#[derive(Debug)]
pub struct RateLimit {
    interval: Duration,
    max_wait: Duration,
    /// The earliest instant the next request may start.
    next: Mutex<Option<Instant>>,
}

impl RateLimit {
    /// At most one request per `interval`; wait at most `max_wait` for a slot.
    pub fn new(interval: Duration, max_wait: Duration) -> RateLimit {
        RateLimit {
            interval,
            max_wait,
            next: Mutex::new(None),
        }
    }

    /// AMD's Key Distribution Service: about one request per 10 seconds per client.
    pub fn amd_kds() -> RateLimit {
        RateLimit::new(Duration::from_secs(10), Duration::from_secs(25))
    }

    /// Waits for a slot and takes it.
    pub async fn acquire(&self) -> Result<(), CollateralError> {
        // Reserve the slot under the lock, sleep outside it, so waiters queue in order.
        let start = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let start = next.map_or(now, |n| n.max(now));
            let wait = start - now;
            if wait > self.max_wait {
                return Err(CollateralError::RateLimited { retry_after: wait });
            }
            *next = Some(start + self.interval);
            start
        };
        tokio::time::sleep_until(start).await;
        Ok(())
    }

    /// Pushes the next slot out to at least `retry_after` from now (the service said HTTP 429).
    pub async fn back_off(&self, retry_after: Duration) {
        let mut next = self.next.lock().await;
        let until = Instant::now() + retry_after;
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_and_long_waits_refused() {
        let limit = RateLimit::new(Duration::from_secs(10), Duration::from_secs(15));
        let t0 = Instant::now();
        limit.acquire().await.expect("first slot is immediate");
        assert_eq!(Instant::now() - t0, Duration::ZERO);
        limit.acquire().await.expect("second slot within max_wait");
        assert_eq!(Instant::now() - t0, Duration::from_secs(10));
        // Two more callers at once: the first waits 10 s, the second would wait 20 s > 15 s.
        let (a, b) = tokio::join!(limit.acquire(), async {
            tokio::task::yield_now().await;
            limit.acquire().await
        });
        assert!(a.is_ok());
        assert!(matches!(b, Err(CollateralError::RateLimited { .. })), "{b:?}");
        limit.back_off(Duration::from_secs(60)).await;
        assert!(matches!(
            limit.acquire().await,
            Err(CollateralError::RateLimited { retry_after }) if retry_after > Duration::from_secs(15)
        ));
    }
}
