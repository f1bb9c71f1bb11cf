//! Helpers shared by the integration tests and benchmarks of the workspace's crates, so that
//! each rule lives in one place: where the shared test data is ([`data`]), which Python the
//! interop tests run and when they skip ([`python`]), running the `hod` binary ([`cli`]), `.npy`
//! files for the Python side ([`npy`]), a seeded generator ([`rng`]) and benchmark figures
//! ([`bench`]).
//!
//! A dev-dependency only (`publish = false`). Its helpers fail the calling test loudly (they
//! unwrap and panic with what failed), as the tests themselves do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bench;
pub mod cli;
pub mod data;
pub mod npy;
pub mod python;
pub mod rng;
