//! Scoring with segmentation models: insight.segment and insight.segment_distance. Whole table
//! rows are rewritten by the planner into column arguments as for the other scorers
//! (api/rewrite.rs).

use crate::api::predict::{number, score_direct, Output};
use pgrx::prelude::*;
use pgrx::AnyElement;

/// The segment (1-based) of a row under a segmentation model; insight.predict gives the same.
#[pg_extern(stable, parallel_safe)]
fn segment(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    number(score_direct(fcinfo, model, &row_or_array, Output::Segment)) as i32
}

/// The distance from a row to the centre of its segment, in the encoded inputs (standardised
/// numbers, one-hot categories): large values are outliers of their segment.
#[pg_extern(stable, parallel_safe)]
fn segment_distance(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    number(score_direct(
        fcinfo,
        model,
        &row_or_array,
        Output::SegmentDistance,
    ))
}
