//! How every demo thread learns that it is time to stop.
//!
//! The demo uses plain threads and blocking sockets. A thread blocked in `read` does
//! not look at flags, so stopping takes two things: a `Stop` signal that sleeping and
//! polling threads wait on, and `Conns`, the open server-side connections, which are
//! shut down so that their blocked reads return at once.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A one-way switch: off while the demo runs, on when it stops.
#[derive(Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    changed: Condvar,
}

impl Stop {
    pub fn set(&self) {
        *lock(&self.stopped) = true;
        self.changed.notify_all();
    }

    pub fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps for `pause`, waking early when stopped. True when stopped.
    pub fn wait(&self, pause: Duration) -> bool {
        let deadline = Instant::now() + pause;
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .changed
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// A connection `Conns` can hang up on: TCP and unix streams.
pub trait HangUp: Send + Sync {
    fn hang_up(&self);
}

impl HangUp for TcpStream {
    fn hang_up(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl HangUp for UnixStream {
    fn hang_up(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// The server-side connections that are open now.
///
/// It holds them weakly: the thread serving a connection owns it, and when that thread
/// drops it the socket closes at once (a `try_clone` here would keep it open).
#[derive(Default)]
pub struct Conns {
    state: Mutex<ConnsState>,
}

#[derive(Default)]
struct ConnsState {
    closed: bool,
    open: Vec<Weak<dyn HangUp>>,
}

impl Conns {
    /// Registers a connection; false (and hung up) if the demo is already stopping,
    /// so a connection accepted during `hang_up_all` is not left blocking.
    pub fn add<T: HangUp + 'static>(&self, conn: &Arc<T>) -> bool {
        let mut state = lock(&self.state);
        if state.closed {
            conn.hang_up();
            return false;
        }
        state.open.retain(|c| c.strong_count() > 0);
        let weak: Weak<dyn HangUp> = Arc::downgrade(conn) as Weak<dyn HangUp>;
        state.open.push(weak);
        true
    }

    /// Shuts every open connection down, and every one added later.
    pub fn hang_up_all(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        for conn in state.open.drain(..) {
            if let Some(conn) = conn.upgrade() {
                conn.hang_up();
            }
        }
    }
}

/// A named thread with a small stack: the demo may run thousands of them (one per
/// echo connection with `--connections`).
pub fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.to_string())
        .stack_size(128 * 1024)
        .spawn(body)
}

/// A poisoned lock only means another demo thread panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn wait_returns_early_once_stopped() {
        let stop = Arc::new(Stop::default());
        assert!(!stop.wait(Duration::from_millis(1)));
        let setter = Arc::clone(&stop);
        let t = thread::spawn(move || setter.set());
        assert!(stop.wait(Duration::from_secs(30)));
        t.join().unwrap();
        assert!(stop.is_set());
    }

    #[test]
    fn hang_up_wakes_a_blocked_reader() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let server = Arc::new(listener.accept().unwrap().0);
        let conns = Conns::default();
        assert!(conns.add(&server));
        let reader = Arc::clone(&server);
        let t = thread::spawn(move || (&*reader).read(&mut [0; 8]).unwrap());
        conns.hang_up_all();
        assert_eq!(t.join().unwrap(), 0, "read sees end of stream");
        assert!(!conns.add(&server), "no new connections once hung up");
    }
}
