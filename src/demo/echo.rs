//! The echo server and its line protocol, one thread per connection.
//!
//! Each request is one line ending in `\n` (a `\r` before it is dropped); each gets
//! exactly one reply line:
//!
//! ```text
//! ping          -> pong
//! echo <text>   -> <text>
//! quit          -> bye, then the server closes the connection (it closes first, so
//!                  the server side goes to TIME_WAIT)
//! anything else -> error: ...
//! ```
//!
//! A line longer than `MAX_LINE` bytes is answered with one error line when its end
//! arrives; its bytes are not kept, so memory stays bounded. A line may arrive in any
//! number of pieces: nothing is answered before its `\n`.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::stop::{self, Conns, HangUp, Stop};

/// The longest line the server reads, in bytes, without its `\n`.
pub const MAX_LINE: usize = 1024;

/// How often an accept loop looks for new connections and for the stop signal.
const ACCEPT_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// One complete line as the server received it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// Collects bytes as they arrive and hands out complete lines.
#[derive(Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    /// The current line passed `MAX_LINE`: its bytes are skipped until its `\n`.
    overflowed: bool,
}

impl LineBuffer {
    /// The lines that `bytes` completes; an unfinished line waits for more.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                lines.push(self.finish_line());
            } else if self.overflowed {
                // skipping the rest of a long line
            } else if self.pending.len() == MAX_LINE {
                self.overflowed = true;
                self.pending.clear();
            } else {
                self.pending.push(b);
            }
        }
        lines
    }

    fn finish_line(&mut self) -> Line {
        if std::mem::take(&mut self.overflowed) {
            return Line::TooLong;
        }
        let mut bytes = std::mem::take(&mut self.pending);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        String::from_utf8(bytes).map_or(Line::NotUtf8, Line::Text)
    }
}

/// The server's answer to one line.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// The server closes the connection after sending `text`.
    pub close: bool,
}

/// The protocol itself: what the server says to one line.
pub fn answer(line: &Line) -> Reply {
    let text = match line {
        Line::TooLong => format!("error: line longer than {MAX_LINE} bytes"),
        Line::NotUtf8 => "error: line is not UTF-8".to_string(),
        Line::Text(text) => match text.split_once(' ') {
            None if text == "ping" => "pong".to_string(),
            None if text == "echo" => String::new(),
            None if text == "quit" => {
                return Reply {
                    text: "bye".to_string(),
                    close: true,
                };
            }
            Some(("echo", rest)) => rest.to_string(),
            _ if text.is_empty() => "error: empty line (try ping, echo <text>, quit)".to_string(),
            _ => {
                let command = text.split(' ').next().unwrap_or_default();
                format!("error: unknown command '{command}' (try ping, echo <text>, quit)")
            }
        },
    };
    Reply { text, close: false }
}

/// Serves one connection until the peer closes it, sends `quit`, or an error.
pub fn converse(mut reader: impl Read, mut writer: impl Write) -> io::Result<()> {
    let mut lines = LineBuffer::default();
    let mut buf = [0u8; 4096];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(()); // the peer closed (or `Conns` hung up on us)
        }
        for line in lines.push(&buf[..n]) {
            let reply = answer(&line);
            writer.write_all(format!("{}\n", reply.text).as_bytes())?;
            if reply.close {
                return Ok(()); // dropping the stream closes it: we close first
            }
        }
    }
}

/// A listener the echo server can accept from: TCP or unix.
pub trait Listener: Send + 'static {
    type Stream: HangUp + 'static;
    fn accept_stream(&self) -> io::Result<Self::Stream>;
}

impl Listener for std::net::TcpListener {
    type Stream = std::net::TcpStream;
    fn accept_stream(&self) -> io::Result<Self::Stream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

impl Listener for std::os::unix::net::UnixListener {
    type Stream = std::os::unix::net::UnixStream;
    fn accept_stream(&self) -> io::Result<Self::Stream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

/// Starts the accept loop of an echo server on its own thread.
///
/// The listener is non-blocking so the loop can notice `stop`; the connections are
/// blocking, each served by its own thread.
pub fn serve<L>(listener: L, stop: Arc<Stop>, conns: Arc<Conns>) -> io::Result<JoinHandle<()>>
where
    L: Listener,
    for<'a> &'a L::Stream: Read + Write,
{
    stop::spawn("demo-echo-accept", move || {
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        while !stop.is_set() {
            let stream = match listener.accept_stream() {
                Ok(stream) => Arc::new(stream),
                // WouldBlock: nobody is waiting. Other errors (say, out of file
                // descriptors) pass too; either way, look again a little later.
                Err(_) => {
                    stop.wait(ACCEPT_POLL);
                    continue;
                }
            };
            if !conns.add(&stream) {
                break;
            }
            workers.retain(|w| !w.is_finished());
            let serve_one = move || {
                let _ = converse(&*stream, &*stream);
            };
            if let Ok(worker) = stop::spawn("demo-echo-conn", serve_one) {
                workers.push(worker);
            }
        }
        for worker in workers {
            let _ = worker.join();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Line {
        Line::Text(s.to_string())
    }

    fn say(line: &str) -> String {
        answer(&text(line)).text
    }

    #[test]
    fn ping_answers_pong() {
        assert_eq!(say("ping"), "pong");
    }

    #[test]
    fn echo_answers_its_text_verbatim() {
        assert_eq!(say("echo hello world"), "hello world");
        assert_eq!(say("echo  two spaces "), " two spaces ");
        assert_eq!(say("echo"), "");
    }

    #[test]
    fn quit_says_bye_and_closes() {
        let reply = answer(&text("quit"));
        assert_eq!(reply.text, "bye");
        assert!(reply.close);
        assert!(!answer(&text("ping")).close);
    }

    #[test]
    fn anything_else_is_an_error_line() {
        assert_eq!(
            say("PING now"),
            "error: unknown command 'PING' (try ping, echo <text>, quit)"
        );
        assert!(say("").starts_with("error: empty line"));
        assert!(say("quit now").starts_with("error: unknown command 'quit'"));
        assert_eq!(answer(&Line::NotUtf8).text, "error: line is not UTF-8");
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let mut buf = LineBuffer::default();
        assert!(buf.push(b"pi").is_empty());
        assert!(buf.push(b"n").is_empty());
        assert_eq!(
            buf.push(b"g\r\necho a\nech"),
            vec![text("ping"), text("echo a")]
        );
        assert_eq!(buf.push(b"o b\n"), vec![text("echo b")]);
    }

    #[test]
    fn long_lines_get_one_error_and_do_not_grow_the_buffer() {
        let mut buf = LineBuffer::default();
        let exactly_max = vec![b'x'; MAX_LINE];
        assert!(buf.push(&exactly_max).is_empty());
        assert_eq!(buf.push(b"\n"), vec![Line::Text("x".repeat(MAX_LINE))]);

        for _ in 0..100 {
            assert!(buf.push(&[b'y'; 1000]).is_empty());
        }
        assert!(buf.pending.len() <= MAX_LINE);
        assert_eq!(buf.push(b"yy\nping\n"), vec![Line::TooLong, text("ping")]);
        assert_eq!(
            answer(&Line::TooLong).text,
            format!("error: line longer than {MAX_LINE} bytes")
        );
    }

    #[test]
    fn invalid_utf8_is_reported_not_fatal() {
        let mut buf = LineBuffer::default();
        assert_eq!(
            buf.push(b"\xff\xfe\nping\n"),
            vec![Line::NotUtf8, text("ping")]
        );
    }

    #[test]
    fn converse_answers_each_line_and_stops_at_quit() {
        let input: &[u8] = b"ping\necho hi\nbogus\nquit\nping\n";
        let mut out = Vec::new();
        converse(input, &mut out).unwrap();
        let expected =
            "pong\nhi\nerror: unknown command 'bogus' (try ping, echo <text>, quit)\nbye\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
