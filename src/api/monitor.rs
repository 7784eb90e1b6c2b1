//! The PostgreSQL side of ml::monitor: query cancel and progress NOTICEs.

use crate::ml::monitor::Monitor;
use pgrx::prelude::*;

pub struct PgMonitor {
    progress: bool,
}

impl PgMonitor {
    pub fn new() -> Self {
        PgMonitor {
            progress: crate::gucs::PROGRESS.get(),
        }
    }
}

impl Monitor for PgMonitor {
    fn checkpoint(&self) {
        // Raises (unwinds) on query cancel or statement_timeout.
        pgrx::check_for_interrupts!();
    }

    fn wants_progress(&self) -> bool {
        self.progress
    }

    fn progress(&self, message: &str) {
        notice!("{message}");
    }

    fn warn(&self, message: &str) {
        warning!("{message}");
    }

    fn notice(&self, message: &str) {
        notice!("{message}");
    }
}
