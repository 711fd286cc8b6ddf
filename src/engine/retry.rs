//! Retry backoff: `IntervalSeconds`, `BackoffRate`, `MaxDelaySeconds`, `JitterStrategy`.

use rand::Rng;

use crate::asl::model::Retrier;

/// The delay before retry number `used + 1`, in milliseconds.
///
/// Spec: the first retry waits `IntervalSeconds`; each next one multiplies it by
/// `BackoffRate`; `MaxDelaySeconds` caps it; `JitterStrategy: FULL` picks a random delay
/// between 0 and that value.
pub fn retry_delay_ms(retrier: &Retrier, used: u32, rng: &mut dyn rand::RngCore) -> i64 {
    let base = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(used as i32);
    let mut secs = match retrier.max_delay_seconds {
        Some(max) => base.min(max as f64),
        None => base,
    };
    if !secs.is_finite() {
        secs = retrier.max_delay_seconds.unwrap_or(31_622_400) as f64;
    }
    let ms = (secs * 1000.0).min(i64::MAX as f64 / 4.0) as i64;
    if retrier.jitter_strategy.as_deref() == Some("FULL") && ms > 0 {
        rng.random_range(0..=ms)
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn retrier(interval: u64, rate: f64, max: Option<u64>, jitter: Option<&str>) -> Retrier {
        Retrier {
            error_equals: vec!["States.ALL".into()],
            interval_seconds: interval,
            max_attempts: 3,
            backoff_rate: rate,
            max_delay_seconds: max,
            jitter_strategy: jitter.map(str::to_string),
            comment: None,
        }
    }

    #[test]
    fn backoff_multiplies_interval_and_caps_at_max_delay() {
        let r = retrier(3, 2.0, Some(5), None);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(retry_delay_ms(&r, 0, &mut rng), 3000);
        assert_eq!(retry_delay_ms(&r, 1, &mut rng), 5000);
        assert_eq!(retry_delay_ms(&r, 5, &mut rng), 5000);
    }

    #[test]
    fn full_jitter_stays_within_the_delay() {
        let r = retrier(2, 1.0, None, Some("FULL"));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let d = retry_delay_ms(&r, 0, &mut rng);
            assert!((0..=2000).contains(&d), "{d}");
        }
    }
}
