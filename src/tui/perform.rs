//! Performing what a confirmed K or X dialog asks, on the UI thread: a signal is one
//! syscall, a close one netlink round trip, so the screen does not wait long.

use std::time::SystemTime;

use crate::act::{self, Caller, Verb};
use crate::text::escape;

use super::app::{Done, Request};

pub fn perform(request: Request) -> Vec<Done> {
    let caller = Caller::current();
    match request {
        Request::Signal {
            targets,
            signal,
            about,
        } => targets
            .iter()
            .map(|target| Done {
                outcome: act::signal(target, signal, &caller),
                at: SystemTime::now(),
                about: about.clone(),
                verb: Verb::Signal(signal),
                target: target.describe(),
                brief: format!(
                    "{} → pid {} {}",
                    signal.name(),
                    target.pid,
                    escape(&target.comm)
                ),
            })
            .collect(),
        Request::Close { socket } => vec![Done {
            outcome: act::close(&socket, &caller, &mut act::Destroyers::default()),
            at: SystemTime::now(),
            target: act::describe_socket(&socket),
            about: socket,
            verb: Verb::Close,
            brief: String::new(),
        }],
    }
}
