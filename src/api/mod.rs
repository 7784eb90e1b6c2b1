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
pub mod rewrite;
pub mod score;
pub mod segment;
pub mod text;
pub mod train;
pub mod transfer;
