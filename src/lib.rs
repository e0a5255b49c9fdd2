//! sockscope: every socket on a Linux host with its state, queues and owners.
//!
//! Data flows one way: `collect` reads the kernel into a `model::Snapshot`,
//! `query` filters it, `output` prints it, `tui` shows it live. Over time, `track`
//! turns consecutive snapshots into events and per-socket history, `diagnose` turns
//! that into findings; `doctor` runs both for `sockscope doctor`, and the live view at
//! every refresh (its events log, rates and diagnostics). `act` signals owners and closes
//! sockets (`kill`, `close`, the live view's K and X). `demo` is a separate producer of
//! real sockets to look at; it shares nothing with `collect`.

pub mod act;
pub mod cli;
pub mod clock;
pub mod collect;
pub mod demo;
pub mod diagnose;
pub mod doctor;
pub mod model;
pub mod output;
pub mod query;
pub mod record;
pub mod states;
pub mod stdio;
pub mod text;
pub mod track;
pub mod tui;
pub mod watch;
