//! One error type for everything users can get wrong. Each becomes an ERROR with a specific
//! SQLSTATE, a message naming the problem and a hint saying how to fix it.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug)]
pub struct InsightError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, InsightError>;

impl InsightError {
    fn new(code: PgSqlErrorCode, message: impl Into<String>, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        InsightError {
            code,
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        }
    }

    /// 22023: a function argument or option has a bad value.
    pub fn invalid_parameter(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            message,
            hint,
        )
    }

    /// 42703: a column that does not exist.
    pub fn undefined_column(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN, message, hint)
    }

    /// 42704: a model (or version) that does not exist.
    /// 42P01: a relation that is gone.
    pub fn undefined_table(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE, message, hint)
    }

    /// 42809: an object of the wrong kind (an index where a table is wanted).
    pub fn wrong_object_type(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, message, hint)
    }

    pub fn undefined_object(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, message, hint)
    }

    /// 42804: a column or argument of a type the model cannot use.
    pub fn datatype_mismatch(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH, message, hint)
    }

    /// 22003: a number beyond what the computation can hold.
    pub fn out_of_range(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            message,
            hint,
        )
    }

    /// 22000: data that cannot train or score a model (empty, one class, NaN).
    pub fn data(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, message, hint)
    }

    /// 22004: a NULL where the model does not allow one.
    pub fn null_value(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            message,
            hint,
        )
    }

    /// 2202E: an array of the wrong length.
    pub fn array_length(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR, message, hint)
    }

    /// 0A000: a valid request this model cannot serve.
    pub fn not_supported(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, message, hint)
    }

    /// 54000: the work asked for is beyond what pg_insight does in one call.
    /// 53200: a call that would need more memory than it may take.
    pub fn out_of_memory(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY, message, hint)
    }

    pub fn program_limit(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            message,
            hint,
        )
    }

    /// 58000: the compute device failed (GPU out of memory, driver error) while running a model.
    pub fn device(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_SYSTEM_ERROR, message, hint)
    }

    /// 42501: the role lacks a privilege.
    pub fn insufficient_privilege(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            message,
            hint,
        )
    }

    /// 25006: a write in a read-only transaction.
    pub fn read_only(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            message,
            hint,
        )
    }

    /// 40001: a concurrent change this transaction's snapshot cannot see; retry.
    pub fn serialization(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
            message,
            hint,
        )
    }

    /// 22P02: text that is not a value of the type it is read as.
    pub fn invalid_text(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            message,
            hint,
        )
    }

    /// XX000: a broken invariant of pg_insight itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message, "")
    }

    /// XX001: a stored model that cannot be decoded.
    pub fn corrupt(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_DATA_CORRUPTED, message, hint)
    }

    /// Raises this error as a PostgreSQL ERROR; never returns.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "pg_insight");
        if let Some(h) = self.hint {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

impl From<crate::ml::problem::Problem> for InsightError {
    fn from(p: crate::ml::problem::Problem) -> Self {
        use crate::ml::problem::ProblemKind;
        match p.kind {
            ProblemKind::InvalidOption => InsightError::invalid_parameter(p.message, p.hint),
            ProblemKind::Data => InsightError::data(p.message, p.hint),
            ProblemKind::Device => InsightError::device(p.message, p.hint),
            ProblemKind::Memory => InsightError::out_of_memory(p.message, p.hint),
        }
    }
}

/// Unwraps a result or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.raise(),
        }
    }
}

/// A function argument that must not be NULL: 22004 naming the argument otherwise.
pub fn required<T>(value: Option<T>, argument: &str, hint: &str) -> Result<T> {
    value.ok_or_else(|| {
        InsightError::null_value(format!("argument {argument} must not be NULL"), hint)
    })
}

/// A text[] argument whose elements must not be NULL: 22004 naming the argument otherwise.
pub fn no_null_elements(
    list: Option<Vec<Option<String>>>,
    argument: &str,
) -> Result<Option<Vec<String>>> {
    list.map(|v| {
        v.into_iter()
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                InsightError::null_value(
                    format!("argument {argument} contains a NULL element"),
                    "List column names only.",
                )
            })
    })
    .transpose()
}

/// Identifiers in messages are shown as SQL would quote them.
pub fn ident(name: &str) -> String {
    pgrx::spi::quote_identifier(name)
}
