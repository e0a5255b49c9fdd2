//! The one way collect/ reads files: bounded, non-blocking, regular files only.
//!
//! What is read here may be a captured tree someone else made, or /proc entries other
//! processes shape (names, paths). So a FIFO in place of net/tcp must not hang us,
//! /dev/zero must not fill memory, a link must not lead where no link belongs, and an
//! error must not paste a megabyte line (or a secret file's lines) into the terminal.
//! Every file is opened O_NONBLOCK|O_CLOEXEC (O_NOFOLLOW where no link is expected),
//! checked to be a regular file, read up to a cap, and lines are cut at a length.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::text::{Escaped, quote};

/// Whether the last component may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    Yes,
    No,
}

/// How much of an offending line an error quotes.
pub const QUOTE: usize = 200;

/// A path for a message: escaped, so a newline in a directory name cannot split it.
pub fn shown(path: &Path) -> Escaped<'_> {
    Escaped(path.as_os_str().as_bytes())
}

/// Opens a regular file for reading. NotFound stays NotFound (callers skip absent
/// tables); a FIFO, device, directory or (with `Follow::No`) a link is InvalidInput.
pub fn open(path: &Path, follow: Follow) -> io::Result<File> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if follow == Follow::No {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::LOOP) if follow == Follow::No => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a symbolic link where a file belongs",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let file = File::from(fd);
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        ));
    }
    Ok(file)
}

/// The whole file, failing (naming it) when it holds more than `max` bytes.
pub fn small(path: &Path, max: usize, follow: Follow) -> Result<Vec<u8>> {
    let file = open(path, follow).with_context(|| format!("cannot read {}", shown(path)))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", shown(path)))?;
    if bytes.len() > max {
        bail!("{} is larger than {max} bytes", shown(path));
    }
    Ok(bytes)
}

/// At most the first `max` bytes of the file (a command line, a process name: shown
/// cut, never refused).
pub fn prefix(path: &Path, max: usize, follow: Follow) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path, follow)?
        .take(max as u64)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A file read line by line, each line cut at `max_line` bytes, the whole at
/// `max_total` bytes (past it, an error naming the file).
pub struct Lines<R> {
    reader: R,
    path: PathBuf,
    line: Vec<u8>,
    number: usize,
    read: u64,
    max_line: usize,
    max_total: u64,
}

/// One line, without its newline.
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based.
    pub number: usize,
    pub text: &'a [u8],
    /// The line was longer than the cap; `text` is its start.
    pub cut: bool,
}

impl Line<'_> {
    /// `line 3: "…"`, the text escaped and cut at `QUOTE` bytes, for messages.
    pub fn describe(&self) -> String {
        let more = if self.cut { "…" } else { "" };
        format!(
            "line {}: \"{}{more}\"",
            self.number,
            quote(self.text, QUOTE)
        )
    }
}

impl Lines<BufReader<File>> {
    /// None when the file does not exist. `capacity` is the read size: for kernel
    /// tables, large (fewer reads are fewer walks of the kernel's hash tables).
    pub fn open(
        path: &Path,
        follow: Follow,
        capacity: usize,
        max_line: usize,
        max_total: u64,
    ) -> Result<Option<Lines<BufReader<File>>>> {
        let file = match open(path, follow) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", shown(path))),
        };
        let reader = BufReader::with_capacity(capacity, file);
        Ok(Some(Lines::new(reader, path, max_line, max_total)))
    }
}

impl<R: BufRead> Lines<R> {
    /// Lines of any reader; `path` names it in errors.
    pub fn new(reader: R, path: &Path, max_line: usize, max_total: u64) -> Lines<R> {
        Lines {
            reader,
            path: path.to_path_buf(),
            line: Vec::new(),
            number: 0,
            read: 0,
            max_line,
            max_total,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next line; None at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>> {
        self.line.clear();
        let mut cut = false;
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", shown(&self.path))),
            };
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], i + 1, true),
                None => (buf, buf.len(), false),
            };
            let room = self.max_line - self.line.len();
            if chunk.len() > room {
                cut = true;
            }
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.reader.consume(used);
            self.read += used as u64;
            if self.read > self.max_total {
                bail!(
                    "{} is larger than {} bytes: not a kernel table",
                    shown(&self.path),
                    self.max_total
                );
            }
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(Line {
            number: self.number,
            text: &self.line,
            cut,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lines_are_cut_and_files_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let long = "x".repeat(5000);
        std::fs::write(&path, format!("a\n{long}\nb")).unwrap();
        let mut lines = Lines::open(&path, Follow::No, 64, 100, 1 << 20)
            .unwrap()
            .unwrap();
        let got: Vec<(usize, usize, bool)> = std::iter::from_fn(|| {
            let line = lines.next_line().unwrap()?;
            Some((line.number, line.text.len(), line.cut))
        })
        .collect();
        assert_eq!(got, [(1, 1, false), (2, 100, true), (3, 1, false)]);

        let mut capped = Lines::open(&path, Follow::No, 64, 100, 1000)
            .unwrap()
            .unwrap();
        let err = loop {
            match capped.next_line() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the cap was not applied"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(err.contains("larger than 1000 bytes"), "{err}");
    }

    #[test]
    fn fifos_devices_and_links_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = open(&fifo, Follow::Yes).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let err = open(Path::new("/dev/zero"), Follow::Yes).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let link = dir.path().join("link");
        symlink("/etc/hostname", &link).unwrap();
        assert!(open(&link, Follow::No).is_err());
        let err = format!("{:#}", small(&link, 10, Follow::No).unwrap_err());
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(
            open(&dir.path().join("none"), Follow::No)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
