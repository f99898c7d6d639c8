//! Rate limiting, room to spare: every call is admitted.
//!
//! - `rate_limit/core`: one admission, our `RateLimiter::try_acquire` against governor's
//!   direct `check` (its default clock, quanta).
//! - `rate_limit/keyed`: one admission for one of 1,024 known keys (`u64`), our
//!   `KeyedRateLimiter::try_acquire` against governor's keyed `check_key` (its default
//!   store, a `DashMap`).
//! - `rate_limit/layer`: our tower layer against tower's `RateLimit` and
//!   tower-resilience's rate limiter, around the same HTTP service. Ours is one limit
//!   shared by every clone of the service; tower's `RateLimit` is one limit per instance
//!   and not `Clone` (a server that clones its service per connection shares it behind a
//!   `Buffer`, a worker task and a channel, which this row does not measure).
//!
//! Same job: a limit so high (10⁹ per second) that no call is refused, so what is timed is
//! the admission itself. GCRA for ours and governor; tower counts down a fixed window
//! (checked in `poll_ready`), tower-resilience too (its default, `Fixed`). Our layer is
//! measured without the `RateLimit` response headers, which the peers do not write
//! (writing them costs one small allocation per response).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use governor::Quota;
use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
use resilience_tower::rate_limit::RateLimitLayer;
use tower::Layer;

use super::{HttpEcho, plain_request};
use crate::compare::{Comparison, Entry};

const RATE: u32 = 1_000_000_000;
const KEYS: u64 = 1024;

fn ours() -> RateLimiter {
    RateLimiter::builder()
        .name("compare")
        .rate(f64::from(RATE))
        .build()
        .expect("a valid limiter")
}

fn quota() -> Quota {
    Quota::per_second(RATE.try_into().expect("not zero"))
}

/// tower's `RateLimit` through the same harness as ours: it is not `Clone` (its limit is
/// per instance), so each clone (one per runner) builds its own on first use, on the
/// runner's runtime (it arms a timer when built).
#[derive(Default)]
struct PerRunner(Option<tower::limit::RateLimit<HttpEcho>>);

impl Clone for PerRunner {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl tower::Service<http::Request<()>> for PerRunner {
    type Response = http::Response<()>;
    type Error = std::convert::Infallible;
    type Future = <HttpEcho as tower::Service<http::Request<()>>>::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let limit = self.0.get_or_insert_with(|| {
            tower::limit::RateLimitLayer::new(u64::from(RATE), Duration::from_secs(1))
                .layer(HttpEcho)
        });
        tower::Service::<http::Request<()>>::poll_ready(limit, cx)
    }

    #[inline]
    fn call(&mut self, request: http::Request<()>) -> Self::Future {
        self.0.as_mut().expect("`poll_ready` first").call(request)
    }
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let core = Comparison::new("rate_limit/core")
        .zero_alloc()
        .ours(Entry::sync("resilience core", {
            let limiter = ours();
            move || {
                let limiter = limiter.clone();
                move || limiter.try_acquire().is_ok()
            }
        }))
        .peer(Entry::sync("governor direct", {
            let governor = Arc::new(governor::RateLimiter::direct(quota()));
            move || {
                let governor = Arc::clone(&governor);
                move || governor.check().is_ok()
            }
        }));

    // Each runner cycles through the keys from its own offset.
    let runners = Arc::new(AtomicU64::new(0));
    let next_key = move || {
        let mut key = runners.fetch_add(KEYS / 2, Ordering::Relaxed);
        move || {
            key = (key + 1) % KEYS;
            key
        }
    };
    let keyed = Comparison::new("rate_limit/keyed")
        .zero_alloc()
        .ours(Entry::sync("resilience keyed", {
            let limiter = KeyedRateLimiter::<u64>::builder()
                .name("compare")
                .rate(f64::from(RATE))
                .build()
                .expect("a valid limiter");
            (0..KEYS).for_each(|k| drop(limiter.try_acquire(&k)));
            let next_key = next_key.clone();
            move || {
                let (limiter, mut key) = (limiter.clone(), next_key());
                move || limiter.try_acquire(&key()).is_ok()
            }
        }))
        .peer(Entry::sync("governor keyed", {
            let governor = Arc::new(governor::RateLimiter::keyed(quota()));
            (0..KEYS).for_each(|k| drop(governor.check_key(&k)));
            move || {
                let (governor, mut key) = (Arc::clone(&governor), next_key());
                move || governor.check_key(&key()).is_ok()
            }
        }));

    let tower_resilience = tower_resilience::ratelimiter::RateLimiterLayer::builder()
        .limit_for_period(RATE as usize)
        .refresh_period(Duration::from_secs(1))
        .build()
        .expect("a valid tower-resilience rate limiter");
    let layer = Comparison::new("rate_limit/layer")
        .zero_alloc()
        .ours(Entry::service(
            "resilience layer",
            RateLimitLayer::new(ours())
                .without_headers()
                .layer(HttpEcho),
            plain_request,
        ))
        .peer(Entry::service(
            "tower RateLimit",
            PerRunner::default(),
            plain_request,
        ))
        .peer(Entry::service(
            "tower-resilience",
            tower_resilience.layer(HttpEcho),
            plain_request,
        ));
    vec![core, keyed, layer]
}
