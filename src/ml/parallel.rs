//! Deterministic data-parallel passes over row blocks.
//!
//! Work is cut into indexed jobs (row blocks, gradient shards) that the calling thread and its
//! helper threads take from one counter; results are combined on the calling thread in index
//! order, so they do not depend on the number of threads. Between groups of blocks the calling
//! thread runs the monitor's checkpoint (query cancel in PostgreSQL): helpers never call back
//! into the caller, and run nothing but the pure-Rust jobs they are given.
//!
//! Helpers spin for a while between jobs before they sleep: training hands out a job every
//! ~20-40 us (two 16-row gradient shards per mini-batch), and waking a sleeping thread costs about
//! as much on a busy VM (measured: with a sleeping rayon pool, 2 threads trained slower than 1).

use super::monitor::Monitor;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rows per block: big enough to amortise scheduling, small enough to balance two cores.
pub const BLOCK_ROWS: usize = 4096;
/// Blocks processed between two checkpoints (~128k rows: a few ms to tens of ms of work).
const BLOCKS_PER_CHECKPOINT: usize = 32;

/// `threads` workers: the calling thread and `threads - 1` helper threads, or the calling thread
/// alone.
pub struct Parallel {
    team: Option<Team>,
}

impl Parallel {
    /// `threads` <= 1 runs everything on the calling thread.
    pub fn new(threads: usize) -> Self {
        Parallel {
            team: (threads > 1).then(|| Team::new(threads - 1)),
        }
    }

    pub fn serial() -> Self {
        Parallel { team: None }
    }

    /// `f(0..n)`, results in index order.
    fn run_indexed<T: Send>(&self, n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
        match &self.team {
            Some(team) if n > 1 => {
                let next = AtomicUsize::new(0);
                let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
                team.run(&|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let v = f(i);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
                });
                slots
                    .into_iter()
                    .map(|m| {
                        m.into_inner()
                            .unwrap_or_else(|e| e.into_inner())
                            .expect("every index ran")
                    })
                    .collect()
            }
            _ => (0..n).map(f).collect(),
        }
    }

    /// Maps `f` over `items` (in parallel when there are helpers), results in item order.
    pub fn map<I: Sync, T: Send, F>(&self, items: &[I], f: F) -> Vec<T>
    where
        F: Fn(&I) -> T + Sync,
    {
        self.run_indexed(items.len(), |i| f(&items[i]))
    }

    /// Maps `f` over the row blocks of `0..n_rows` and returns the per-block results in order.
    pub fn map_blocks<T, F>(&self, n_rows: usize, monitor: &dyn Monitor, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(Range<usize>) -> T + Sync,
    {
        let blocks: Vec<Range<usize>> = (0..n_rows.div_ceil(BLOCK_ROWS))
            .map(|b| b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n_rows))
            .collect();
        let mut out = Vec::with_capacity(blocks.len());
        for group in blocks.chunks(BLOCKS_PER_CHECKPOINT) {
            monitor.checkpoint();
            out.extend(self.map(group, |r| f(r.clone())));
        }
        out
    }
}

impl Parallel {
    /// Threads that run a map (the caller's included).
    pub fn threads(&self) -> usize {
        self.team.as_ref().map_or(1, |t| t.helpers.len() + 1)
    }

    /// Folds `f` over blocks of `block_rows` rows of `0..n_rows` into `acc` with `merge`, in
    /// block order (so the result does not depend on the thread count), a team's worth of
    /// blocks at a time: at most one partial result per thread is alive, and the monitor is
    /// asked between rounds. For work whose per-row cost and per-block result grow with the
    /// width (a Gram matrix): size `block_rows` so that a block is a fraction of a second.
    pub fn fold_blocks<T, F, G>(
        &self,
        n_rows: usize,
        block_rows: usize,
        monitor: &dyn Monitor,
        acc: &mut T,
        f: F,
        mut merge: G,
    ) where
        T: Send,
        F: Fn(Range<usize>) -> T + Sync,
        G: FnMut(&mut T, T),
    {
        let block_rows = block_rows.max(1);
        let blocks: Vec<Range<usize>> = (0..n_rows.div_ceil(block_rows))
            .map(|b| b * block_rows..((b + 1) * block_rows).min(n_rows))
            .collect();
        for round in blocks.chunks(self.threads()) {
            monitor.checkpoint();
            for part in self.map(round, |r| f(r.clone())) {
                merge(acc, part);
            }
        }
    }
}

/// How long an idle helper spins before it sleeps.
const SPIN: Duration = Duration::from_millis(2);

/// A job: a closure on the stack of the thread inside `Team::run`, which does not return before
/// every helper has finished with it.
type Job = *const (dyn Fn() + Sync);

struct Shared {
    /// Bumped for each job (odd/even does not matter); helpers run a job when it changes.
    generation: AtomicU64,
    job: Mutex<Option<SendJob>>,
    /// Helpers done with the current generation.
    done: AtomicUsize,
    panicked: AtomicBool,
    quit: AtomicBool,
    /// Tests: the signals each helper had blocked at its first instruction.
    #[cfg(test)]
    entry_masks: Mutex<Vec<Vec<i32>>>,
}

struct SendJob(Job);
// SAFETY: the closure behind the pointer is Sync, and it outlives every use (see Team::run)
unsafe impl Send for SendJob {}

/// Helper threads that run the same job as the caller, in lock-step.
struct Team {
    shared: Arc<Shared>,
    helpers: Vec<std::thread::JoinHandle<()>>,
}

impl Team {
    fn new(n: usize) -> Team {
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            job: Mutex::new(None),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            quit: AtomicBool::new(false),
            #[cfg(test)]
            entry_masks: Mutex::new(Vec::new()),
        });
        // A thread starts with its creator's signal mask. Blocking every signal here, before the
        // spawn, means no process-directed signal (SIGINT, SIGALRM, SIGTERM, SIGUSR1) can ever be
        // delivered to a helper, whose PostgreSQL handler would then run on the wrong thread.
        let _mask = SignalsBlocked::new();
        let helpers = (0..n)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || helper_loop(&shared))
            })
            .collect();
        Team { shared, helpers }
    }

    /// Runs `job` on this thread and on every helper; returns when all are done with it.
    fn run(&self, job: &(dyn Fn() + Sync)) {
        let sh = &self.shared;
        // SAFETY (lifetime extension): helpers only call the job between seeing the new
        // generation and bumping `done`, and this function waits for all of them below
        let ptr: Job =
            unsafe { std::mem::transmute::<&(dyn Fn() + Sync), &'static (dyn Fn() + Sync)>(job) };
        *sh.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(SendJob(ptr));
        sh.done.store(0, Ordering::Release);
        sh.generation.fetch_add(1, Ordering::Release);
        for h in &self.helpers {
            h.thread().unpark();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let started = Instant::now();
        let mut spins = 0u32;
        while sh.done.load(Ordering::Acquire) < self.helpers.len() {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) || started.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                // a helper is slow (or descheduled): wait without taking a core
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        *sh.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if sh.panicked.swap(false, Ordering::AcqRel) {
            panic!("a pg_insight worker thread panicked");
        }
    }
}

fn helper_loop(sh: &Shared) {
    #[cfg(test)]
    sh.entry_masks.lock().unwrap().push(tests::blocked_now());
    let mut seen = 0u64;
    loop {
        let idle = Instant::now();
        let mut spins = 0u32;
        let mut sleeping = false;
        let generation = loop {
            if sh.quit.load(Ordering::Acquire) {
                return;
            }
            let g = sh.generation.load(Ordering::Acquire);
            if g != seen {
                break g;
            }
            spins = spins.wrapping_add(1);
            // the clock is read every 256 spins: reading it each time cost 7% of training
            if !sleeping && spins.is_multiple_of(256) && idle.elapsed() >= SPIN {
                sleeping = true;
            }
            if sleeping {
                // `run` unparks the helpers after publishing a job, so none is missed
                std::thread::park_timeout(Duration::from_millis(10));
            } else {
                std::hint::spin_loop();
            }
        };
        seen = generation;
        let job = sh
            .job
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|j| j.0);
        if let Some(job) = job {
            // SAFETY: `run` keeps the closure alive until `done` counts this helper
            let f = unsafe { &*job };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                sh.panicked.store(true, Ordering::Release);
            }
        }
        sh.done.fetch_add(1, Ordering::AcqRel);
    }
}

/// Every signal blocked on the calling thread until drop, which restores the previous mask (also
/// when a spawn panics). Helpers are spawned inside one and inherit the full mask: in a
/// PostgreSQL backend, the signal handlers (query cancel, termination) must run on the backend's
/// own thread, which checks for them between jobs.
/// Runs `f` with every signal blocked on this thread: threads that libraries start inside it
/// (the rayon pool of candle's matrix products) inherit the mask, so PostgreSQL's signal handlers
/// keep running on the backend's own thread only. Signals that arrive meanwhile wait until `f`
/// returns.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    let _blocked = SignalsBlocked::new();
    f()
}

struct SignalsBlocked {
    #[cfg(unix)]
    previous: libc::sigset_t,
}

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        #[cfg(unix)]
        // SAFETY: plain libc calls on local signal sets
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut previous);
            SignalsBlocked { previous }
        }
        #[cfg(not(unix))]
        SignalsBlocked {}
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: restores the mask saved by `new`
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.quit.store(true, Ordering::Release);
        for h in self.helpers.drain(..) {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_in_index_order_for_any_thread_count() {
        for threads in [1, 2, 3, 5] {
            let par = Parallel::new(threads);
            for n in [0, 1, 2, 7, 100] {
                let items: Vec<u64> = (0..n).collect();
                // uneven work, so that helpers finish out of order
                let got = par.map(&items, |&i| {
                    (0..(i % 7) * 1000).fold(i, |a, b| a.wrapping_mul(31).wrapping_add(b))
                });
                let want: Vec<u64> = items
                    .iter()
                    .map(|&i| {
                        (0..(i % 7) * 1000).fold(i, |a, b| a.wrapping_mul(31).wrapping_add(b))
                    })
                    .collect();
                assert_eq!(got, want, "threads {threads}, n {n}");
            }
        }
    }

    #[test]
    fn a_panic_in_any_worker_reaches_the_caller_and_the_team_survives() {
        let par = Parallel::new(2);
        let items: Vec<usize> = (0..64).collect();
        for bad in [0, 63] {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                par.map(&items, |&i| {
                    if i == bad {
                        panic!("job {i} failed");
                    }
                    i
                })
            }));
            assert!(r.is_err(), "the panic of job {bad} was lost");
        }
        assert_eq!(
            par.map(&items, |&i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn sleeping_helpers_wake_for_the_next_job() {
        let par = Parallel::new(2);
        let items: Vec<u32> = (0..8).collect();
        for _ in 0..3 {
            // longer than the spin phase: the helper is parked when the job comes
            std::thread::sleep(SPIN * 10);
            assert_eq!(par.map(&items, |&i| i + 1), (1..9).collect::<Vec<_>>());
        }
    }

    /// The signal mask of the calling thread, as a list of the blocked signals 1..32.
    pub(super) fn blocked_now() -> Vec<i32> {
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            (1..32)
                .filter(|&s| libc::sigismember(&set, s) == 1)
                .collect()
        }
    }

    #[test]
    fn helpers_start_with_every_signal_blocked_and_the_caller_keeps_its_mask() {
        let before = blocked_now();
        assert!(
            !before.contains(&libc::SIGINT),
            "the test thread takes SIGINT"
        );
        let par = Parallel::new(3);
        assert_eq!(
            blocked_now(),
            before,
            "spawning changed the caller's signal mask"
        );
        // a job for everyone, so that every helper has surely started
        par.map(&(0..64).collect::<Vec<_>>(), |_| {
            std::thread::sleep(Duration::from_micros(200))
        });
        let team = par.team.as_ref().unwrap();
        let masks = team.shared.entry_masks.lock().unwrap().clone();
        assert_eq!(masks.len(), 2, "each helper records its mask");
        for m in &masks {
            for sig in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGALRM,
                libc::SIGUSR1,
                libc::SIGUSR2,
                libc::SIGQUIT,
            ] {
                assert!(m.contains(&sig), "a helper can take signal {sig}");
            }
        }
    }

    #[test]
    fn blocks_cover_every_row_once() {
        let par = Parallel::new(2);
        let n = BLOCK_ROWS * 40 + 17;
        let blocks = par.map_blocks(n, &crate::ml::monitor::Silent, |r| r);
        assert_eq!(blocks.first().map(|r| r.start), Some(0));
        assert_eq!(blocks.last().map(|r| r.end), Some(n));
        assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
    }
}
