//! Pure-Rust machine learning: matrices, solvers, preprocessing, metrics, the model codec and
//! the seeded synthetic data generator. Nothing in here knows about PostgreSQL (no pgrx), so it
//! can be unit-tested with plain `#[test]`s and benchmarked with criterion directly.

#[cfg(feature = "candle")]
pub mod candle_backend;
pub mod importance;
pub mod linalg;
pub mod linear;
pub mod logistic;
pub mod metrics;
pub mod model;
pub mod mlp;
pub mod monitor;
pub mod optim;
pub mod parallel;
pub mod preprocess;
pub mod split;
pub mod synth;
