//! Timing: calibrated batches, alternating contenders, medians, allocation counts and a
//! two-thread contended run.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use stats_alloc::{Region, StatsAlloc};

/// Runs `iters` calls of one contender and returns the time they took (the built-in
/// entries time chunks of calls and leave out chunks the scheduler preempted).
pub type Runner = Box<dyn FnMut(u64) -> Duration + Send>;

/// How long and how often to sample.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Target duration of one timed batch.
    pub batch: Duration,
    /// Timed batches per contender; the report uses their median.
    pub samples: usize,
    /// Calls in the allocation-counting run.
    pub alloc_calls: u64,
}

impl Settings {
    /// The full run: 20 batches of about 20 ms per contender.
    #[must_use]
    pub fn full() -> Self {
        Self {
            batch: Duration::from_millis(20),
            samples: 21,
            alloc_calls: 10_000,
        }
    }

    /// A short run (`--quick`), for smoke tests: 5 batches of about 2 ms.
    #[must_use]
    pub fn quick() -> Self {
        Self {
            batch: Duration::from_millis(2),
            samples: 5,
            alloc_calls: 1_000,
        }
    }
}

/// One contender: a name and a factory of runners. Each runner owns its own executor and a
/// handle on the contender's shared state (for a service, a clone of it), so the two-thread
/// run can give each thread its own runner over the same instance.
pub struct Entry {
    name: &'static str,
    make: Box<dyn Fn() -> Runner>,
    /// Builds (and drops) one input, for contenders whose inputs are made outside the
    /// timed region: the allocations it makes are taken off the contender's count.
    input: Option<Box<dyn Fn()>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).finish()
    }
}

/// Calls per timed chunk (and inputs made ahead of each chunk by
/// [`Entry::future_with_input`]).
const CHUNK: u64 = 128;

/// A chunk slower than this many times the batch's median chunk counts as the median.
const PREEMPTED: u32 = 8;

/// Times a batch chunk by chunk, so that a chunk the scheduler preempted (milliseconds,
/// where a chunk takes microseconds: this machine is shared) does not count.
///
/// The batch's time is the sum of its chunks' times, each capped at [`PREEMPTED`] times
/// the median chunk: costs that recur within a few chunks (a budget deposit window, an
/// executor yield, a hash map insert) stay in; a descheduled thread's wait does not.
#[derive(Debug, Default)]
struct Clock {
    chunks: Vec<Duration>,
    scratch: Vec<Duration>,
}

impl Clock {
    fn total(&mut self) -> Duration {
        if self.chunks.len() < 3 {
            return self.chunks.drain(..).sum();
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.chunks);
        let mid = self.scratch.len() / 2;
        let cap = *self.scratch.select_nth_unstable(mid).1 * PREEMPTED;
        self.chunks.drain(..).map(|d| d.min(cap)).sum()
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds")
}

impl Entry {
    /// A contender whose runners `make` builds: runners that time themselves.
    pub fn new(name: &'static str, make: impl Fn() -> Runner + 'static) -> Self {
        Self {
            name,
            make: Box::new(make),
            input: None,
        }
    }

    /// A contender calling a plain closure: `make` returns a fresh "call once" closure
    /// (sharing the contender's state), which each runner calls in timed chunks.
    pub fn sync<F, T>(name: &'static str, make: impl Fn() -> F + 'static) -> Self
    where
        F: FnMut() -> T + Send + 'static,
    {
        Self::new(name, move || {
            let mut call = make();
            let mut clock = Clock::default();
            Box::new(move |iters| {
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    left -= n;
                    let start = uncounted(Instant::now);
                    for _ in 0..n {
                        std::hint::black_box(call());
                    }
                    uncounted(|| clock.chunks.push(start.elapsed()));
                }
                clock.total()
            })
        })
    }

    /// A contender calling an async operation: `make` returns a fresh "call once" async
    /// closure (sharing the contender's state, e.g. owning a clone of a service, which
    /// each call borrows: no per-call clone); each runner drives it on its own
    /// current-thread tokio runtime (time enabled), so one `block_on` covers a whole batch.
    pub fn future<F, T>(name: &'static str, make: impl Fn() -> F + 'static) -> Self
    where
        F: AsyncFnMut() -> T + Send + 'static,
    {
        Self::new(name, move || {
            let mut call = make();
            let mut clock = Clock::default();
            let rt = current_thread_runtime();
            Box::new(move |iters| {
                rt.block_on(async {
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK);
                        left -= n;
                        let start = uncounted(Instant::now);
                        for _ in 0..n {
                            std::hint::black_box(call().await);
                        }
                        uncounted(|| clock.chunks.push(start.elapsed()));
                    }
                });
                clock.total()
            })
        })
    }

    /// Like [`future`](Self::future), for an operation that consumes an input it cannot
    /// reuse (an `http::Request`): inputs are made with `input` ahead of each timed chunk
    /// of calls, outside the timed region, and the allocations `input` makes are not
    /// counted against the contender.
    pub fn future_with_input<I, F, T>(
        name: &'static str,
        input: fn() -> I,
        make: impl Fn() -> F + 'static,
    ) -> Self
    where
        I: Send + 'static,
        F: AsyncFnMut(I) -> T + Send + 'static,
    {
        let mut entry = Self::new(name, move || {
            let mut call = make();
            let mut clock = Clock::default();
            let rt = current_thread_runtime();
            let mut inputs: Vec<I> = Vec::with_capacity(CHUNK as usize);
            Box::new(move |iters| {
                rt.block_on(async {
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK);
                        left -= n;
                        let start = uncounted(|| {
                            inputs.extend((0..n).map(|_| input()));
                            Instant::now()
                        });
                        for item in inputs.drain(..) {
                            std::hint::black_box(call(item).await);
                        }
                        uncounted(|| clock.chunks.push(start.elapsed()));
                    }
                });
                clock.total()
            })
        });
        entry.input = Some(Box::new(move || drop(std::hint::black_box(input()))));
        entry
    }

    /// A tower service, cloned once per runner (clones share the instance's state, as
    /// a server's per-connection clones do), called with `poll_ready` + `call` + `.await`
    /// on a request made by `request` outside the timed region.
    pub fn service<S, Req>(name: &'static str, svc: S, request: fn() -> Req) -> Self
    where
        S: tower_service::Service<Req> + Clone + Send + 'static,
        Req: Send + 'static,
    {
        Self::future_with_input(name, request, move || {
            let mut svc = svc.clone();
            async move |req| {
                let ready = std::future::poll_fn(|cx| svc.poll_ready(cx)).await;
                assert!(
                    ready.is_ok(),
                    "{name}: not ready; comparisons measure success"
                );
                let Ok(response) = svc.call(req).await else {
                    panic!("{name}: a call failed; comparisons measure success")
                };
                response
            }
        })
    }

    /// The contender's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs `calls` calls of this contender (after a tenth as many to warm up) inside
    /// the region an instruction count looks at: the child process side of
    /// [`instructions`](super::instructions), run under callgrind.
    pub fn run_counted(&self, calls: u64) {
        let mut runner = (self.make)();
        runner((calls / 10).max(1));
        counted(&mut runner, calls);
    }
}

/// Runs `f` outside the region an instruction count looks at: callgrind toggles
/// collection off on entering it (inside [`counted`]) and on again on leaving it. The
/// runners make their inputs and read the clock in here.
#[inline(never)]
fn uncounted<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The region an instruction count looks at: callgrind toggles collection on when it is
/// entered and off when it returns.
#[inline(never)]
fn counted(runner: &mut Runner, calls: u64) {
    std::hint::black_box(runner(calls));
}

/// What was measured for one contender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Median time per call, single thread.
    pub ns_per_call: f64,
    /// Heap allocations per call (over [`Settings::alloc_calls`] calls).
    pub allocs_per_call: f64,
    /// Median time per call with two threads calling the same instance at once.
    pub contended_ns_per_call: f64,
    /// Instructions per call, counted by callgrind (see
    /// [`instructions`](super::instructions)); `None` when not counted.
    pub instructions_per_call: Option<f64>,
}

/// The result of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What is compared, e.g. `circuit_breaker/layer`.
    pub name: &'static str,
    /// Our contender.
    pub ours: Measured,
    /// Our contender's name.
    pub ours_name: &'static str,
    /// Each peer, by name.
    pub peers: Vec<(&'static str, Measured)>,
    /// Whether our success path must not allocate (see [`Comparison::zero_alloc`]).
    pub zero_alloc: bool,
}

/// Ours against one or more peers doing the same job.
#[derive(Debug)]
pub struct Comparison {
    name: &'static str,
    ours: Option<Entry>,
    peers: Vec<Entry>,
    zero_alloc: bool,
}

impl Comparison {
    /// A comparison called `name`.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            ours: None,
            peers: Vec::new(),
            zero_alloc: false,
        }
    }

    /// Sets our contender.
    #[must_use]
    pub fn ours(mut self, entry: Entry) -> Self {
        self.ours = Some(entry);
        self
    }

    /// Adds a peer.
    #[must_use]
    pub fn peer(mut self, entry: Entry) -> Self {
        self.peers.push(entry);
        self
    }

    /// Marks our contender's success path as one that must not allocate: a figure above
    /// zero fails [`check`](super::check).
    #[must_use]
    pub fn zero_alloc(mut self) -> Self {
        self.zero_alloc = true;
        self
    }

    /// The comparison's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Contender `index`: 0 is ours, then the peers in the order they were added.
    #[must_use]
    pub fn entry(&self, index: usize) -> Option<&Entry> {
        match index {
            0 => self.ours.as_ref(),
            i => self.peers.get(i - 1),
        }
    }

    /// Measures every contender. `alloc` is the process's counting allocator, when one is
    /// installed (allocations read as zero otherwise).
    ///
    /// # Panics
    ///
    /// When no contender was set with [`ours`](Self::ours): a programming error in the
    /// comparison table, not a runtime condition.
    #[must_use]
    pub fn measure(
        self,
        settings: &Settings,
        alloc: Option<&'static StatsAlloc<std::alloc::System>>,
    ) -> Measurement {
        let ours = self.ours.expect("every comparison names our contender");
        let entries: Vec<Entry> = std::iter::once(ours).chain(self.peers).collect();
        let mut runners: Vec<Runner> = entries.iter().map(|e| (e.make)()).collect();

        let iters: Vec<u64> = runners
            .iter_mut()
            .map(|runner| calibrate(runner, settings.batch))
            .collect();

        // Alternate: every round samples each contender once, starting at a different one.
        let mut samples = vec![Vec::with_capacity(settings.samples); runners.len()];
        for round in 0..settings.samples {
            for k in 0..runners.len() {
                let i = (round + k) % runners.len();
                let elapsed = runners[i](iters[i]);
                samples[i].push(per_call(elapsed, iters[i]));
            }
        }

        let allocs: Vec<f64> = runners
            .iter_mut()
            .zip(&entries)
            .map(|(runner, entry)| {
                let made = count_allocs(runner, alloc, settings.alloc_calls);
                let inputs = entry.input.as_ref().map_or(0.0, |input| {
                    count_allocs(
                        &mut |n| {
                            (0..n).for_each(|_| input());
                            Duration::ZERO
                        },
                        alloc,
                        settings.alloc_calls,
                    )
                });
                (made - inputs).max(0.0)
            })
            .collect();
        drop(runners);

        let contended: Vec<f64> = entries
            .iter()
            .zip(&iters)
            .map(|(entry, &n)| contended(entry, n, settings.samples.div_ceil(3)))
            .collect();

        let mut measured = samples.iter_mut().zip(allocs).zip(contended).map(
            |((s, allocs_per_call), contended_ns_per_call)| Measured {
                ns_per_call: median(s),
                allocs_per_call,
                contended_ns_per_call,
                instructions_per_call: None,
            },
        );
        let ours = measured.next().expect("ours was measured first");
        let mut names = entries.iter().map(Entry::name);
        let ours_name = names.next().expect("ours is the first entry");
        Measurement {
            name: self.name,
            ours,
            ours_name,
            peers: names.zip(measured).collect(),
            zero_alloc: self.zero_alloc,
        }
    }
}

/// Iterations that take about `batch`, after a warm-up.
fn calibrate(runner: &mut Runner, batch: Duration) -> u64 {
    let mut iters = 1_u64;
    loop {
        let elapsed = runner(iters);
        if elapsed >= batch / 4 || iters >= 1 << 30 {
            let per = elapsed.as_secs_f64() / iters as f64;
            return ((batch.as_secs_f64() / per.max(1e-12)) as u64).clamp(1, 1 << 32);
        }
        iters *= 4;
    }
}

fn per_call(elapsed: Duration, iters: u64) -> f64 {
    elapsed.as_secs_f64() * 1e9 / iters as f64
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn count_allocs(
    runner: &mut dyn FnMut(u64) -> Duration,
    alloc: Option<&'static StatsAlloc<std::alloc::System>>,
    calls: u64,
) -> f64 {
    let Some(alloc) = alloc else { return 0.0 };
    let region = Region::new(alloc);
    runner(calls);
    region.change().allocations as f64 / calls as f64
}

/// Two threads, each with its own runner over the same instance, started together; the
/// median over `rounds` of the slower thread's time per call.
fn contended(entry: &Entry, iters: u64, rounds: usize) -> f64 {
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let barrier = Arc::new(Barrier::new(2));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let mut runner = (entry.make)();
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        runner(iters.div_ceil(8).max(1)); // warm this thread's runner
                        barrier.wait();
                        runner(iters)
                    })
                })
                .collect();
            let slowest = threads
                .into_iter()
                .map(|t| t.join().expect("a contender thread panicked"))
                .max()
                .unwrap_or_default();
            per_call(slowest, iters)
        })
        .collect();
    median(&mut samples)
}
