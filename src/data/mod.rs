//! Reading relations through SPI (with the caller's privileges) into column batches, and the
//! mapping from PostgreSQL types to what the models understand.

pub mod array;
pub mod columns;
pub mod deform;
pub mod encode;
pub mod reader;
pub mod row;
