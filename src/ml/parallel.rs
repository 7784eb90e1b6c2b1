//! Deterministic data-parallel passes over row blocks.
//!
//! Rows are cut into fixed-size blocks; each block is reduced on a rayon worker and the partial
//! results are combined on the calling thread in block order, so results do not depend on the
//! number of threads. Between groups of blocks the calling thread runs the monitor's checkpoint
//! (query cancel in PostgreSQL): workers never call back into the caller.

use super::monitor::Monitor;
use rayon::prelude::*;
use std::ops::Range;

/// Rows per block: big enough to amortise scheduling, small enough to balance two cores.
pub const BLOCK_ROWS: usize = 4096;
/// Blocks processed between two checkpoints (~128k rows: a few ms to tens of ms of work).
const BLOCKS_PER_CHECKPOINT: usize = 32;

/// A thread pool of a chosen size, or the calling thread alone.
pub struct Parallel {
    pool: Option<rayon::ThreadPool>,
}

impl Parallel {
    /// `threads` <= 1 runs everything on the calling thread.
    pub fn new(threads: usize) -> Self {
        let pool = if threads > 1 {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()
        } else {
            None
        };
        Parallel { pool }
    }

    pub fn serial() -> Self {
        Parallel { pool: None }
    }

    /// Maps `f` over `items` (in parallel when there is a pool), results in item order.
    pub fn map<I: Sync, T: Send, F>(&self, items: &[I], f: F) -> Vec<T>
    where
        F: Fn(&I) -> T + Sync,
    {
        match &self.pool {
            Some(pool) if items.len() > 1 => pool.install(|| items.par_iter().map(&f).collect()),
            _ => items.iter().map(f).collect(),
        }
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
            match &self.pool {
                Some(pool) => {
                    let part: Vec<T> =
                        pool.install(|| group.par_iter().map(|r| f(r.clone())).collect());
                    out.extend(part);
                }
                None => out.extend(group.iter().map(|r| f(r.clone()))),
            }
        }
        out
    }
}
