//! A fixed-window rate limiter per client address for `/api`, sized by `RATE_LIMIT_MAX`
//! and `RATE_LIMIT_WINDOW_MS`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many tracked clients, expired windows are dropped so memory stays bounded.
const PRUNE_AT: usize = 10_000;

#[derive(Debug)]
pub struct Limiter {
    max: u64,
    window: Duration,
    clients: Mutex<HashMap<Option<IpAddr>, (Instant, u64)>>,
}

impl Limiter {
    pub fn new(max: u64, window: Duration) -> Self {
        Limiter { max, window, clients: Mutex::new(HashMap::new()) }
    }

    /// Counts one request from `client` at `now`; `Err(retry_after)` when over the limit.
    pub fn check(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= PRUNE_AT {
            clients.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = clients.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_per_window_then_refuses_until_the_window_passes() {
        let l = Limiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(l.check(ip, t0).is_ok());
        assert!(l.check(ip, t0).is_ok());
        assert_eq!(l.check(ip, t0 + Duration::from_secs(10)), Err(Duration::from_secs(50)));
        assert!(l.check(Some(IpAddr::from([10, 0, 0, 2])), t0).is_ok(), "other clients have their own window");
        assert!(l.check(ip, t0 + Duration::from_secs(60)).is_ok());
    }
}
