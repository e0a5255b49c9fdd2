//! sockscope: every socket on a Linux host with its state, queues and owners.
//!
//! Data flows one way: `collect` reads the kernel into a `model::Snapshot`,
//! `query` filters it, `output` prints it, `tui` shows it live.

pub mod cli;
pub mod collect;
pub mod model;
pub mod output;
pub mod query;
pub mod tui;
