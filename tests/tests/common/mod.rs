//! Helpers shared by integration test files (each file includes this module).

pub mod wire;
