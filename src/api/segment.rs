//! Scoring with segmentation models: insight.segment and insight.segment_distance.

use crate::api::predict::{call_site, scores, CallSite};
use crate::error::InsightError;
use crate::ml::model::Task;
use pgrx::prelude::*;
use pgrx::AnyElement;

/// The segment (1-based) of a row under a segmentation model; insight.predict gives the same.
#[pg_extern(stable, parallel_safe)]
fn segment(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    segment_output(fcinfo, model, &row_or_array, "insight.segment", 0) as i32
}

/// The distance from a row to the centre of its segment, in the encoded inputs (standardised
/// numbers, one-hot categories): large values are outliers of their segment.
#[pg_extern(stable, parallel_safe)]
fn segment_distance(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    segment_output(fcinfo, model, &row_or_array, "insight.segment_distance", 1)
}

fn segment_output(
    fcinfo: pg_sys::FunctionCallInfo,
    model: &str,
    row: &AnyElement,
    what: &str,
    i: usize,
) -> f64 {
    let run = |site: &mut CallSite| {
        scores(site, model, row, false, |m, _x, out| {
            if m.task != Task::Segmentation {
                return Err(InsightError::not_supported(
                    format!(
                        "{what} needs a segmentation model, but model \"{model}\" is a {} model",
                        m.task.as_str()
                    ),
                    "Train one with algorithm => 'kmeans'; for this model use insight.predict.",
                ));
            }
            Ok(out[i])
        })
    };
    // SAFETY: pgrx hands a scalar function its own FunctionCallInfo
    match unsafe { call_site(fcinfo) } {
        Some(site) => run(site),
        None => run(&mut CallSite::default()),
    }
}
