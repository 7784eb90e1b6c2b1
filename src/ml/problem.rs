//! What the pure layer reports when a request cannot be served: a message for the user naming the
//! problem and a hint with the fix. The SQL layer turns each kind into its SQLSTATE
//! (crate::error), so nothing here knows about PostgreSQL.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// An option or argument with a bad value, or one that does nothing (22023).
    InvalidOption,
    /// Data that cannot train a model: one class, no rows, NaN (22000).
    Data,
    /// The compute device failed (58000).
    Device,
    /// The work would need more memory than insight.max_train_memory allows (53200).
    Memory,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
    pub hint: String,
}

impl Problem {
    pub fn option(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::InvalidOption,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn data(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Data,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn memory(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Memory,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn device(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Device,
            message: message.into(),
            hint: hint.into(),
        }
    }
}
