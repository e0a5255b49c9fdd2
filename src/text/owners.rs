//! Who holds a socket, in every form a text output shows it. The one place owner
//! text is written: each form goes through `Who`, so a process name reaches every
//! output escaped (see `crate::text`).

use std::fmt::{self, Display, Write};

use super::Escaped;
use crate::model::Owner;

/// "pid SEP comm": the process as every form names it, its name escaped.
pub struct Who<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub sep: &'static str,
}

impl Display for Who<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.pid, self.sep, Escaped::str(self.comm))
    }
}

fn who<'a>(o: &'a Owner, sep: &'static str) -> Who<'a> {
    Who {
        pid: o.pid,
        comm: &o.process.comm,
        sep,
    }
}

/// `list`'s PROCESS and doctor's socket lines: "1234/nginx fd 3, 1235/nginx fd 3";
/// "-" when nobody holds it.
pub fn with_fds(owners: &[Owner], out: &mut impl Write) -> fmt::Result {
    if owners.is_empty() {
        return out.write_str("-");
    }
    for (i, o) in owners.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write!(out, "{} fd {}", who(o, "/"), o.fd)?;
    }
    Ok(())
}

/// `with_fds` as a String.
pub fn with_fds_text(owners: &[Owner]) -> String {
    let mut text = String::new();
    let _ = with_fds(owners, &mut text);
    text
}

/// The CSV's `processes`: "1234/nginx/3;1235/nginx/3"; empty when nobody holds it.
pub fn csv(owners: &[Owner], out: &mut impl Write) -> fmt::Result {
    for (i, o) in owners.iter().enumerate() {
        if i > 0 {
            out.write_char(';')?;
        }
        write!(out, "{}/{}", who(o, "/"), o.fd)?;
    }
    Ok(())
}

/// One line in a narrow column: "812 nginx", "812 nginx +1" when several processes
/// share it; `none` when nobody does.
pub fn first(owners: &[Owner], none: &str, out: &mut impl Write) -> fmt::Result {
    match owners {
        [] => out.write_str(none),
        [one] => write!(out, "{}", who(one, " ")),
        [first, rest @ ..] => write!(out, "{} +{}", who(first, " "), rest.len()),
    }
}

/// `first` as a String, "-" for nobody.
pub fn first_text(owners: &[Owner]) -> String {
    let mut text = String::new();
    let _ = first(owners, "-", &mut text);
    text
}

/// "pid 10 curl, pid 11 curl +2": the first `named` by name, the rest counted.
pub fn named(owners: &[Owner], named: usize) -> String {
    let mut text = String::new();
    for (i, o) in owners.iter().take(named).enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "pid {}", who(o, " "));
    }
    if let more @ 1.. = owners.len().saturating_sub(named) {
        let _ = write!(text, " +{more}");
    }
    text
}

/// A group of processes in one phrase: "1234/nginx", "3 processes", or "no visible
/// process" (owners hidden or gone: TIME_WAIT, not yet accepted). `pids` may repeat.
pub fn group<'a>(pids: impl Iterator<Item = (u32, &'a str)>) -> String {
    let mut pids: Vec<(u32, &str)> = pids.collect();
    pids.sort();
    pids.dedup();
    match pids.as_slice() {
        [] => "no visible process".into(),
        [(pid, comm)] => Who {
            pid: *pid,
            comm,
            sep: "/",
        }
        .to_string(),
        more => format!("{} processes", more.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_sockets::owner;

    #[test]
    fn every_form_escapes_the_name() {
        let evil = [owner(7, 3, "a\nb"), owner(8, 4, "ok")];
        let mut text = String::new();
        with_fds(&evil, &mut text).unwrap();
        assert_eq!(text, "7/a\\nb fd 3, 8/ok fd 4");
        text.clear();
        csv(&evil, &mut text).unwrap();
        assert_eq!(text, "7/a\\nb/3;8/ok/4");
        assert_eq!(first_text(&evil), "7 a\\nb +1");
        assert_eq!(first_text(&[]), "-");
        assert_eq!(named(&evil, 1), "pid 7 a\\nb +1");
        assert_eq!(
            group(evil.iter().map(|o| (o.pid, &*o.process.comm)).take(1)),
            "7/a\\nb"
        );
        assert_eq!(
            group([(1, "x"), (2, "y"), (1, "x")].into_iter()),
            "2 processes"
        );
    }
}
