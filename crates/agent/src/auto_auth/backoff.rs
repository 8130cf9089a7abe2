//! Retry delays for failed logins: exponential backoff with jitter.

use std::time::Duration;

use rand::Rng as _;

use super::AuthTiming;

/// Exponential backoff with jitter: `initial`, doubling up to `max`, each delay scaled by a
/// random factor in [0.75, 1] so that many agents restarted together spread out.
pub(super) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(super) fn new(timing: AuthTiming) -> Backoff {
        Backoff {
            next: timing.backoff_initial,
            max: timing.backoff_max.max(timing.backoff_initial),
        }
    }

    pub(super) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        base.mul_f64(rand::thread_rng().gen_range(0.75..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(AuthTiming {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5),
        });
        let delays: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        let bases = [1.0, 2.0, 4.0, 5.0, 5.0];
        for (delay, base) in delays.iter().zip(bases) {
            let secs = delay.as_secs_f64();
            assert!(secs <= base && secs >= base * 0.75, "{delays:?}");
        }
    }
}
