//! sockscope: every socket on a Linux host with its state, queues and owners.
//!
//! Data flows one way: `collect` reads the kernel into a `model::Snapshot`,
//! `query` filters it, `output` prints it. `demo` is a separate producer of real
//! sockets to look at; it shares nothing with `collect`.

pub mod cli;
pub mod collect;
pub mod demo;
pub mod model;
pub mod output;
pub mod query;
