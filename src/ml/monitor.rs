//! How long-running fits talk to their caller without depending on it.
//!
//! The PostgreSQL layer implements [`Monitor`] to check for query cancel (which unwinds out of the
//! fit) and to turn progress messages into NOTICEs; tests use [`Silent`].

pub trait Monitor {
    /// Called between units of work (at least every ~100 ms on big inputs). May not return if
    /// the caller wants to stop (query cancel).
    fn checkpoint(&self);
    /// Whether progress messages are wanted; lets callers skip formatting them.
    fn verbose(&self) -> bool;
    /// A progress message (only called when `verbose()`).
    fn progress(&self, message: &str);
}

/// A monitor that never stops and never reports.
pub struct Silent;

impl Monitor for Silent {
    fn checkpoint(&self) {}
    fn verbose(&self) -> bool {
        false
    }
    fn progress(&self, _message: &str) {}
}
