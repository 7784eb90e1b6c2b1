//! The PostgreSQL side of ml::monitor: query cancel and progress NOTICEs.

use crate::ml::monitor::Monitor;
use pgrx::prelude::*;

pub struct PgMonitor {
    verbose: bool,
}

impl PgMonitor {
    pub fn new() -> Self {
        PgMonitor { verbose: crate::gucs::VERBOSE.get() }
    }
}

impl Monitor for PgMonitor {
    fn checkpoint(&self) {
        // Raises (unwinds) on query cancel or statement_timeout.
        pgrx::check_for_interrupts!();
    }

    fn verbose(&self) -> bool {
        self.verbose
    }

    fn progress(&self, message: &str) {
        notice!("{message}");
    }
}
