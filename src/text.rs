//! Text from other processes (names, paths, command lines) is hostile: anyone can name
//! a process `\x1b[2J` or bind a unix socket whose path holds a newline. Every text
//! output writes such data through `Escaped`, so it can neither split a line nor reach
//! a terminal as a control sequence.
//!
//! The rule is `ls -b`'s: a byte that is a control character (C0, DEL, and the UTF-8 of
//! C1), or that is not part of valid UTF-8, is written `\xNN` (`\n`, `\r`, `\t` for
//! the common ones), and a backslash is written `\\`, so the original bytes can be
//! read back from the text exactly.

pub mod owners;
pub mod units;

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Writes its bytes escaped (see the module comment) without allocating.
pub struct Escaped<'a>(pub &'a [u8]);

impl<'a> Escaped<'a> {
    pub fn str(text: &'a str) -> Escaped<'a> {
        Escaped(text.as_bytes())
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            let valid = chunk.valid();
            let mut start = 0;
            for (i, c) in valid.char_indices() {
                if needs_escape(c) {
                    f.write_str(&valid[start..i])?;
                    let mut buf = [0; 4];
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        escape_byte(f, b)?;
                    }
                    start = i + c.len_utf8();
                }
            }
            f.write_str(&valid[start..])?;
            for &b in chunk.invalid() {
                escape_byte(f, b)?;
            }
        }
        Ok(())
    }
}

/// A socket's local end for text output: the endpoint, or a unix name escaped from
/// its exact bytes (which need not be UTF-8). The one escaped form of `local_text`.
pub fn local_text(s: &crate::model::Socket) -> String {
    local_text_with(s, &crate::model::Naming::NUMERIC)
}

/// `local_text` with the names `naming` has (`127.0.0.1:https`).
pub fn local_text_with(s: &crate::model::Socket, naming: &crate::model::Naming) -> String {
    match (s.local, s.path_bytes()) {
        (None, Some(name)) => Escaped(name).to_string(),
        // A packet socket's interface name is whatever root named it.
        _ => escaped(s.local_text_with(naming)),
    }
}

/// A socket's remote end for text output, with the names `naming` has: a host name
/// is whatever a DNS server or /etc/hosts says, so it is escaped like any name.
pub fn remote_text_with(s: &crate::model::Socket, naming: &crate::model::Naming) -> String {
    escaped(s.remote_text_with(naming))
}

/// `text` escaped, without a copy when nothing needed escaping.
fn escaped(text: String) -> String {
    match escape(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// `text` escaped, borrowed when nothing needed escaping (the usual case).
pub fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().any(needs_escape) {
        Cow::Owned(Escaped::str(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// At most `max` bytes of `text` (cut on a character boundary), escaped, with `…`
/// where it was cut: for quoting a bad input line in an error message.
pub fn quote(text: &[u8], max: usize) -> String {
    if text.len() <= max {
        return Escaped(text).to_string();
    }
    let mut cut = max;
    // Never split a UTF-8 sequence: back up over continuation bytes.
    while cut > 0 && (text[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    format!("{}…", Escaped(&text[..cut]))
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\'
}

fn escape_byte(f: &mut fmt::Formatter<'_>, b: u8) -> fmt::Result {
    match b {
        b'\n' => f.write_str("\\n"),
        b'\r' => f.write_str("\\r"),
        b'\t' => f.write_str("\\t"),
        b'\\' => f.write_str("\\\\"),
        _ => {
            f.write_str("\\x")?;
            f.write_char(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'))?;
            f.write_char(char::from_digit(u32::from(b & 0xF), 16).unwrap_or('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_name_is_escaped_in_local() {
        use crate::model::{Detail, Family, Proto, Socket, SocketType, TcpState};
        let detail = Detail::Packet {
            ethertype: 0x0800,
            ifindex: 2,
            interface: Some("ev\x1b[2Jil".into()),
        };
        let s = Socket::family(
            Proto::Packet,
            Family::Packet,
            SocketType::Dgram,
            TcpState::Unconn,
            1,
            Some(detail),
        );
        assert_eq!(local_text(&s), "ip:ev\\x1b[2Jil");
    }

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        assert!(matches!(
            escape("nginx: worker /run/a b.sock ü"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn controls_and_bad_utf8_become_hex() {
        assert_eq!(escape("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(escape("\x1b[2J\x07\x7f"), "\\x1b[2J\\x07\\x7f");
        // C1: U+009B is a one-character CSI on some terminals.
        assert_eq!(escape("x\u{9b}2J"), "x\\xc2\\x9b2J");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        assert_eq!(Escaped(b"ok\xff\xfe").to_string(), "ok\\xff\\xfe");
    }

    #[test]
    fn quotes_are_cut_on_a_character() {
        assert_eq!(quote(b"short", 200), "short");
        assert_eq!(quote("aaü".as_bytes(), 3), "aa…");
        assert_eq!(quote(&[b'x'; 500], 200).len(), 200 + "…".len());
    }
}
