//! Pure-Rust machine learning: matrices, solvers, preprocessing, metrics, the model codec and
//! the seeded synthetic data generator. Nothing in here knows about PostgreSQL (no pgrx), so it
//! can be unit-tested with plain `#[test]`s and benchmarked with criterion directly.

pub mod algorithms;
pub mod bundle;
pub mod clv;
pub mod distance;
pub mod drift;
#[cfg(feature = "candle")]
pub mod embed;
pub mod importance;
pub mod linalg;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod optim;
pub mod options;
pub mod parallel;
pub mod preprocess;
pub mod privacy;
pub mod problem;
pub mod profile;
pub mod recommend;
pub mod report_data;
pub mod reservoir;
pub mod special;
pub mod split;
pub mod synth;
pub mod synth_reviews;
pub mod text;
pub mod trees;
