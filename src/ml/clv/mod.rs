//! Customer lifetime value: the per-customer summary of raw orders that the buy-till-you-die
//! models take (summary.rs), and the models (bgnbd.rs).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod rfm;
pub mod summary;
