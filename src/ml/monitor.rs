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
