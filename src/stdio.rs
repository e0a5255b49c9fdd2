//! Writing to stdout and stderr without panics and without losing errors.
//!
//! `println!`/`eprintln!` panic when the write fails (stderr on /dev/full), and std's
//! own handles quietly drop output to a closed descriptor (EBADF). The command-line
//! outputs go through `Stdout` instead, which reports every error, and warnings
//! through `warn`, which never fails: a warning that cannot be written is lost, and
//! the exit status still tells.

use std::fmt::Display;
use std::io::{self, Write};
use std::os::fd::AsFd;

/// Unbuffered fd 1: wrap it in a `BufWriter`. Errors are reported as they are, EBADF
/// (stdout closed) and EPIPE (reader gone) included.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_fd(io::stdout().as_fd(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_fd(fd: std::os::fd::BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::io::write(fd, buf) {
            Err(rustix::io::Errno::INTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// `sockscope: MESSAGE` on stderr, one line; errors writing it are ignored. Messages
/// escape the hostile data in them where they are made; should a control character
/// still be there, the whole message is escaped here, so it stays one line.
pub fn warn(message: impl Display) {
    let mut text = message.to_string();
    if text.chars().any(char::is_control) {
        text = crate::text::quote(text.as_bytes(), 4096);
    }
    let line = format!("sockscope: {text}\n");
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        match write_fd(io::stderr().as_fd(), rest) {
            Ok(0) | Err(_) => return,
            Ok(n) => rest = &rest[n..],
        }
    }
}

/// Whether an error is the reader of our output going away (`| head`): not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
