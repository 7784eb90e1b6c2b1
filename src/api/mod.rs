//! Thin SQL wrappers (#[pg_extern]), grouped by what the user does.

pub mod demo;
pub mod evaluate;
pub mod explain;
pub mod lifecycle;
pub mod monitor;
pub mod predict;
pub mod recut;
pub mod rewrite;
pub mod score;
pub mod segment;
pub mod train;
