//! How long-running fits talk to their caller without depending on it.
//!
//! The PostgreSQL layer implements [`Monitor`] to check for query cancel (which unwinds out of the
//! fit) and to turn progress messages into NOTICEs; tests use [`Silent`].

pub trait Monitor {
    /// Called between units of work (at least every ~100 ms on big inputs). May not return if
    /// the caller wants to stop (query cancel).
    fn checkpoint(&self);
    /// Whether progress messages are wanted; lets callers skip formatting them.
    fn wants_progress(&self) -> bool;
    /// A progress message (only called when `wants_progress()`).
    fn progress(&self, message: &str);
    /// Something the user should know about the result (always shown: a WARNING in SQL).
    fn warn(&self, message: &str);
    /// What was chosen for the user (always shown: a NOTICE in SQL).
    fn notice(&self, message: &str);
}

/// A monitor that never stops and never reports.
pub struct Silent;

impl Monitor for Silent {
    fn checkpoint(&self) {}
    fn wants_progress(&self) -> bool {
        false
    }
    fn progress(&self, _message: &str) {}
    fn warn(&self, _message: &str) {}
    fn notice(&self, _message: &str) {}
}

/// For tests: counts the checkpoints, and stops the work (unwinds, as query cancel does in
/// PostgreSQL) at checkpoint number `stop_at`, if given.
#[cfg(test)]
pub struct Counting {
    pub checks: std::sync::atomic::AtomicUsize,
    pub stop_at: Option<usize>,
}

#[cfg(test)]
impl Counting {
    pub fn new(stop_at: Option<usize>) -> Self {
        Counting {
            checks: std::sync::atomic::AtomicUsize::new(0),
            stop_at,
        }
    }

    pub fn checks(&self) -> usize {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
impl Monitor for Counting {
    fn checkpoint(&self) {
        let n = self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if self.stop_at == Some(n) {
            std::panic::panic_any("cancelled");
        }
    }
    fn wants_progress(&self) -> bool {
        false
    }
    fn progress(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn notice(&self, _: &str) {}
}
