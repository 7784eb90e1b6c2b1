//! insight.models / insight.deployments: reading and writing model rows, resolving
//! `'name'` / `'name@3'`, and the per-backend cache of decoded models.

pub mod cache;
pub mod catalog;
pub mod citus;
