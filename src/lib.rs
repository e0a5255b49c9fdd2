//! sockscope: every socket on a Linux host with its state, queues and owners.
//!
//! Data flows one way: `collect` reads the kernel into a `model::Snapshot`,
//! `query` filters it, `output` prints it, `tui` shows it live. Over time, `track`
//! turns consecutive snapshots into events and per-socket history, `diagnose` turns
//! that into findings, and `doctor` runs both for `sockscope doctor`.

pub mod cli;
pub mod collect;
pub mod diagnose;
pub mod doctor;
pub mod model;
pub mod output;
pub mod query;
pub mod track;
pub mod tui;
