//! sockscope: every socket on a Linux host with its state, queues and owners.
//!
//! Data flows one way: `collect` (the only module that reads the OS) reads the kernel
//! into a `model::Snapshot`, `query` filters it, `output` prints it through the
//! `column`s, `tui` shows it live. Over time, `track` turns consecutive snapshots into
//! events and per-socket history, `diagnose` turns that into findings; `doctor` runs
//! both for `sockscope doctor`, and the live view at every refresh; `export` serves
//! them to Prometheus, one snapshot per scrape. `act` signals owners
//! and closes sockets (`kill`, `close`, the live view's K and X). `text` escapes what
//! other processes named. `demo` produces real sockets to look at. ARCHITECTURE.md has
//! the modules, what each may import, and how to add a column, source, format or rule.

pub mod act;
pub mod cli;
pub mod clock;
pub mod collect;
pub mod column;
pub mod demo;
pub mod diagnose;
pub mod doctor;
pub mod export;
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

// The tests' socket builder (tests/common/sockets.rs) names this crate `sockscope`, as
// the integration tests do; this lets the unit tests include the same file.
#[cfg(test)]
extern crate self as sockscope;
#[cfg(test)]
#[path = "../tests/common/sockets.rs"]
pub(crate) mod test_sockets;
