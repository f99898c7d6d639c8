//! Figures over time: goodput per second, p99 of successful payments per second,
//! cumulative duplicate charges, and the time a gateway took to recover.

use std::time::Duration;

use crate::chaos::load::Paid;
use crate::chaos::upstream::Window;

/// Share of the goodput before the event a gateway must get back to, over two consecutive
/// one-second windows, to count as recovered.
pub const RECOVERY_SHARE: f64 = 0.9;

/// A second with fewer successful payments than this has no p99 (one slow payment among
/// three would be "the p99"): the chart leaves it out.
pub const MIN_FOR_P99: usize = 5;

/// One second of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Second {
    /// Payments answered 2xx in this second.
    pub goodput: u64,
    /// 99th percentile latency of those payments (first try to 2xx), when there were at
    /// least [`MIN_FOR_P99`].
    pub p99: Option<Duration>,
    /// Duplicate charges made from the start of the run to the end of this second.
    pub duplicates: u64,
}

/// The `q` quantile of sorted values (nearest rank).
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The per-second series over `seconds` seconds (duplicate charges made later, by a queue
/// finishing after the run, are in no second).
pub(crate) fn per_second(paid: &[Paid], duplicates: &[Duration], seconds: usize) -> Vec<Second> {
    let seconds = seconds.max(1);
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); seconds];
    for p in paid {
        let i = (p.answered.as_secs() as usize).min(seconds - 1);
        latencies[i].push(p.latency());
    }
    let mut made = 0;
    latencies
        .into_iter()
        .enumerate()
        .map(|(i, mut bucket)| {
            bucket.sort_unstable();
            let end = Duration::from_secs(i as u64 + 1);
            while made < duplicates.len() && duplicates[made] < end {
                made += 1;
            }
            Second {
                goodput: bucket.len() as u64,
                p99: (bucket.len() >= MIN_FOR_P99).then(|| percentile(&bucket, 0.99)),
                duplicates: made as u64,
            }
        })
        .collect()
}

/// Payments answered 2xx per second between `from` and `to` (`None` for an empty span).
pub(crate) fn goodput_in(paid: &[Paid], from: Duration, to: Duration) -> Option<f64> {
    let span = to.checked_sub(from).filter(|s| !s.is_zero())?;
    let answered = paid
        .iter()
        .filter(|p| p.answered >= from && p.answered < to)
        .count();
    Some(answered as f64 / span.as_secs_f64())
}

/// How long after the event ended the goodput was back to [`RECOVERY_SHARE`] of its level
/// before the event, for good: in every one-second window (sliding by 100 ms) from then
/// until `end` (when payments stop arriving), at least two seconds of them. `None`: not
/// recovered for good in the run — never back, or back and collapsed again.
pub(crate) fn recovery(paid: &[Paid], event: Window, end: Duration) -> Option<Duration> {
    let second = Duration::from_secs(1);
    let step = Duration::from_millis(100);
    // The first second warms connection pools up; leave it out of the baseline.
    let baseline = goodput_in(paid, second.min(event.start / 2), event.start)?;
    let good = |from: Duration| {
        goodput_in(paid, from, from + second).is_some_and(|g| g >= baseline * RECOVERY_SHARE)
    };
    // Walk back from the last window: the recovery starts after the last bad one.
    let last = end.checked_sub(event.end() + second)?;
    let windows = (last.as_millis() / step.as_millis()) as u32;
    let mut first_good = None;
    for k in (0..=windows).rev() {
        if !good(event.end() + step * k) {
            break;
        }
        first_good = Some(step * k);
    }
    first_good.filter(|offset| *offset + 2 * second <= last + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(answered_ms: u64, latency_ms: u64) -> Paid {
        Paid {
            payment: answered_ms,
            started: Duration::from_millis(answered_ms - latency_ms),
            answered: Duration::from_millis(answered_ms),
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn sparse_seconds_have_no_p99_and_duplicates_accumulate() {
        // Second 0: ten payments; second 1: two; second 2: none.
        let mut all: Vec<Paid> = (0..10).map(|i| paid(100 + i * 50, 10 + i)).collect();
        all.extend([paid(1_200, 500), paid(1_300, 700)]);
        let duplicates = [Duration::from_millis(500), Duration::from_millis(2_500)];
        // The queue charged once more after the run: in no second.
        let duplicates = [duplicates[0], duplicates[1], Duration::from_secs(9)];
        let series = per_second(&all, &duplicates, 3);
        assert_eq!(series[0].goodput, 10);
        assert_eq!(series[0].p99, Some(Duration::from_millis(19)));
        assert_eq!((series[1].goodput, series[1].p99), (2, None));
        assert_eq!((series[2].goodput, series[2].p99), (0, None));
        let cumulative: Vec<u64> = series.iter().map(|s| s.duplicates).collect();
        assert_eq!(cumulative, [1, 1, 2]);
    }

    #[test]
    fn recovery_is_the_first_offset_with_two_good_seconds() {
        // Ten payments a second until 4 s, none during the event (4..6 s) nor until
        // 6.5 s, ten a second after.
        let all: Vec<Paid> = (0..100)
            .map(|i| i * 100 + 50)
            .filter(|t| !(4_000..6_500).contains(t))
            .map(|t| paid(t, 20))
            .collect();
        let event = Window {
            start: Duration::from_secs(4),
            len: Duration::from_secs(2),
        };
        let got = recovery(&all, event, Duration::from_secs(10));
        // [6.4 s, 7.4 s) is the first window holding nine payments (90% of ten).
        assert_eq!(got, Some(Duration::from_millis(400)));
        let none_after: Vec<Paid> = all
            .iter()
            .copied()
            .filter(|p| p.answered < event.start)
            .collect();
        assert_eq!(recovery(&none_after, event, Duration::from_secs(10)), None);
    }

    #[test]
    fn a_gateway_back_then_collapsed_again_has_not_recovered() {
        // Fine before the event (4..6 s) and for two seconds after it; nothing from 8 s.
        let all: Vec<Paid> = (0..100)
            .map(|i| i * 100 + 50)
            .filter(|t| !(4_000..6_000).contains(t) && *t < 8_000)
            .map(|t| paid(t, 20))
            .collect();
        let event = Window {
            start: Duration::from_secs(4),
            len: Duration::from_secs(2),
        };
        assert_eq!(recovery(&all, event, Duration::from_secs(10)), None);
        // Looking only until 8 s, it had.
        assert_eq!(
            recovery(&all, event, Duration::from_secs(8)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn goodput_counts_answers_per_second_of_the_span() {
        let all: Vec<Paid> = (0..20).map(|i| paid(i * 100 + 10, 5)).collect();
        assert_eq!(
            goodput_in(&all, Duration::ZERO, Duration::from_secs(2)),
            Some(10.0)
        );
        assert_eq!(
            goodput_in(&all, Duration::from_secs(1), Duration::from_secs(1)),
            None
        );
    }
}
