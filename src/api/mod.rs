//! Thin SQL wrappers (#[pg_extern]), grouped by what the user does.

/// PostgreSQL's PG_FUNCTION_INFO_V1 for a raw C function: the record the function manager looks
/// up as `pg_finfo_<symbol>` to learn the calling convention.
macro_rules! function_info_v1 {
    ($finfo:ident) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pgrx::pg_sys::Pg_finfo_record {
            const V1: pgrx::pg_sys::Pg_finfo_record =
                pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

/// The SQL side of an argument type that reads its datum itself (`FromDatum`): declared in SQL as
/// `$sql`, NULL is None for an `Option` argument, and a NULL reaching a non-`Option` one (a
/// function pgrx did not make STRICT) is 22004, never pgrx's panic text.
macro_rules! argument_type {
    ($ty:ident, $sql:literal) => {
        unsafe impl pgrx::pgrx_sql_entity_graph::metadata::SqlTranslatable for $ty {
            const TYPE_IDENT: &'static str = pgrx::pgrx_sql_entity_graph::pgrx_resolved_type!($ty);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: std::result::Result<
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef,
                pgrx::pgrx_sql_entity_graph::metadata::ArgumentError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql));
            const RETURN_SQL: std::result::Result<
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef,
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef::One(
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql),
            ));
        }

        // SAFETY: declared as $sql in SQL (ARGUMENT_SQL above), so the datum is one of that type
        // and `FromDatum` reads it as such; NULL is None
        unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for $ty {
            unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| {
                    crate::error::InsightError::null_value(
                        format!("argument {index} must not be NULL"),
                        "",
                    )
                    .raise()
                })
            }

            unsafe fn unbox_nullable_arg(
                arg: pgrx::callconv::Arg<'_, 'fcx>,
            ) -> pgrx::nullable::Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }
    };
}

pub mod agg_caller;
pub mod agg_state;
pub mod aggregate;
pub mod customer_value;
pub mod demo;
pub mod drift;
pub mod embed;
pub mod evaluate;
pub mod explain;
pub mod json_arg;
pub mod lifecycle;
pub mod monitor;
pub mod predict;
pub mod recommend;
pub mod recut;
pub mod regclass;
pub mod report;
pub mod rewrite;
pub mod score;
pub mod segment;
pub mod text;
pub mod train;
pub mod transfer;
mod memory_limits;
