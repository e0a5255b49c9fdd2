//! A socket's recent samples, packed into a few bytes in place: three samples of 100k
//! sockets took a heap chunk of 128 bytes each (three 40-byte samples; the Vec's own
//! 24 bytes besides), and now take the 40 bytes of `Samples` inside the history.
//!
//! Newest first, each sample a run of LEB128 varints: the newest as it is (its time is
//! the history's `last_seen`), each older one as its difference from the one after it
//! (zigzag: a counter can go back, when a socket reuses a key). Every listed socket is
//! sampled at every snapshot, so an older sample's time is one interval back (5 bytes
//! in nanoseconds); an idle socket's queues and counter deltas are a byte each: three
//! samples take ~25 bytes. A busy socket whose samples need more than `INLINE` bytes
//! keeps them on the heap. Exact: what is read back is what went in.

use super::stamp::{Stamp, ns_of};
use super::{Sample, TcpCounters};

/// Bytes kept in place: with the tag and the counts, `Samples` is 40 bytes.
const INLINE: usize = 37;
/// The most one sample takes: its time, two queues, retransmits (with the bit that
/// says whether it has counters), two byte counters.
const MAX_SAMPLE: usize = 10 + 5 + 5 + 5 + 10 + 10;
/// Samples that went to the heap come back in place only with this much room to
/// spare, so a socket at the edge does not allocate and free at every snapshot.
const BACK_IN_PLACE: usize = 8;

/// Oldest first when read (`History::samples`); stored newest first.
#[derive(Clone, Debug)]
pub(super) enum Samples {
    Inline {
        count: u8,
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap {
        count: u32,
        bytes: Vec<u8>,
    },
}

impl Default for Samples {
    fn default() -> Self {
        Samples::Inline {
            count: 0,
            len: 0,
            bytes: [0; INLINE],
        }
    }
}

/// A sample with its time in nanoseconds since the epoch (`Stamp`).
#[derive(Clone, Copy, Debug)]
struct Raw {
    at: u64,
    recv_q: u32,
    send_q: u32,
    counters: Option<TcpCounters>,
}

impl Raw {
    fn of(s: &Sample) -> Raw {
        Raw {
            at: ns_of(s.at),
            recv_q: s.recv_q,
            send_q: s.send_q,
            counters: s.counters,
        }
    }

    fn sample(self) -> Sample {
        Sample {
            at: Stamp::from_ns(self.at).time(),
            recv_q: self.recv_q,
            send_q: self.send_q,
            counters: self.counters,
        }
    }
}

impl Samples {
    /// The first sample.
    pub(super) fn first(sample: &Sample) -> Samples {
        let mut samples = Samples::default();
        samples.push(sample, Stamp::from_ns(0), 1);
        samples
    }

    fn parts(&self) -> (usize, &[u8]) {
        match self {
            Samples::Inline { count, len, bytes } => (usize::from(*count), &bytes[..*len as usize]),
            Samples::Heap { count, bytes } => (*count as usize, bytes),
        }
    }

    /// Newest first; `last` is the newest one's time (the history's `last_seen`).
    pub(super) fn newest_first(&self, last: Stamp) -> Newest<'_> {
        let (left, bytes) = self.parts();
        Newest {
            read: Reader { bytes, at: 0 },
            left,
            newer: None,
            last: last.ns(),
        }
    }

    /// Adds the newest (`last`: the time of the one that was newest), dropping the
    /// oldest past `cap`.
    pub(super) fn push(&mut self, sample: &Sample, last: Stamp, cap: usize) {
        let cap = cap.clamp(1, u32::MAX as usize);
        let (count, bytes) = self.parts();
        let new = Raw::of(sample);
        let kept = count.min(cap - 1);
        let mut head = Writer::default();
        put(&mut head, &new, None);
        let mut tail = 0..0;
        if kept > 0 {
            // The one that was newest is told against the new one now; those before
            // it keep their bytes (each is told against the one after it).
            let mut read = Reader { bytes, at: 0 };
            let was_newest = take(&mut read, None, last.ns());
            put(&mut head, &was_newest, Some(&new));
            let start = read.at;
            for _ in 1..kept {
                skip(&mut read);
            }
            tail = start..read.at;
        }
        let count = kept + 1;
        let len = head.len + tail.len();
        let in_place = match self {
            Samples::Inline { .. } => len <= INLINE,
            Samples::Heap { .. } => len + BACK_IN_PLACE <= INLINE,
        };
        if in_place && count <= usize::from(u8::MAX) {
            let mut inline = [0; INLINE];
            inline[..head.len].copy_from_slice(head.bytes());
            inline[head.len..len].copy_from_slice(&bytes[tail]);
            *self = Samples::Inline {
                count: count as u8,
                len: len as u8,
                bytes: inline,
            };
            return;
        }
        let count = count as u32;
        match self {
            Samples::Heap { count: n, bytes } => {
                bytes.truncate(tail.end);
                bytes.splice(..tail.start, head.bytes().iter().copied());
                *n = count;
            }
            Samples::Inline { .. } => {
                let mut heap = Vec::with_capacity(len + MAX_SAMPLE);
                heap.extend_from_slice(head.bytes());
                heap.extend_from_slice(&bytes[tail]);
                *self = Samples::Heap { count, bytes: heap };
            }
        }
    }
}

/// The samples newest first (`Samples::newest_first`).
pub(super) struct Newest<'a> {
    read: Reader<'a>,
    left: usize,
    newer: Option<Raw>,
    last: u64,
}

impl Iterator for Newest<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        self.left = self.left.checked_sub(1)?;
        let raw = take(&mut self.read, self.newer.as_ref(), self.last);
        self.newer = Some(raw);
        Some(raw.sample())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Newest<'_> {}

/// Appends `s`, told against `newer` (the sample after it; none for the newest).
fn put(out: &mut Writer, s: &Raw, newer: Option<&Raw>) {
    if let Some(newer) = newer {
        out.varint(zigzag(s.at.wrapping_sub(newer.at)));
    }
    out.varint(u64::from(s.recv_q));
    out.varint(u64::from(s.send_q));
    let Some(c) = s.counters else {
        out.varint(0);
        return;
    };
    let base = newer.and_then(|n| n.counters).unwrap_or_default();
    let retrans = zigzag(u64::from(
        c.total_retrans.wrapping_sub(base.total_retrans) as i32 as u32,
    ));
    out.varint(retrans << 1 | 1);
    out.varint(zigzag(c.bytes_received.wrapping_sub(base.bytes_received)));
    out.varint(zigzag(c.bytes_acked.wrapping_sub(base.bytes_acked)));
}

/// Reads what `put` wrote (`last`: the newest one's time).
fn take(read: &mut Reader, newer: Option<&Raw>, last: u64) -> Raw {
    let at = match newer {
        Some(newer) => newer.at.wrapping_add(unzigzag(read.varint())),
        None => last,
    };
    let recv_q = read.varint() as u32;
    let send_q = read.varint() as u32;
    let retrans = read.varint();
    let counters = (retrans & 1 == 1).then(|| {
        let base = newer.and_then(|n| n.counters).unwrap_or_default();
        TcpCounters {
            total_retrans: base
                .total_retrans
                .wrapping_add(unzigzag(retrans >> 1) as u32),
            bytes_received: base.bytes_received.wrapping_add(unzigzag(read.varint())),
            bytes_acked: base.bytes_acked.wrapping_add(unzigzag(read.varint())),
        }
    });
    Raw {
        at,
        recv_q,
        send_q,
        counters,
    }
}

/// Steps over an older sample (one with a time of its own).
fn skip(read: &mut Reader) {
    let _at = read.varint();
    let _queues = (read.varint(), read.varint());
    if read.varint() & 1 == 1 {
        let _bytes = (read.varint(), read.varint());
    }
}

/// A difference as a small number whichever way it goes: 0, -1, 1, -2... as 0, 1, 2, 3...
fn zigzag(d: u64) -> u64 {
    let d = d as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

/// Room for two samples: the new one and the one it follows.
struct Writer {
    buf: [u8; 2 * MAX_SAMPLE],
    len: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            buf: [0; 2 * MAX_SAMPLE],
            len: 0,
        }
    }
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf[self.len] = v as u8 | 0x80;
            self.len += 1;
            v >>= 7;
        }
        self.buf[self.len] = v as u8;
        self.len += 1;
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> u64 {
        let mut v = 0;
        for shift in (0..64).step_by(7) {
            let b = self.bytes[self.at];
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn at(ms: u64, counted: bool) -> Sample {
        Sample {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms),
            recv_q: ms as u32,
            send_q: 7,
            counters: counted.then_some(TcpCounters {
                bytes_received: u64::MAX - ms,
                bytes_acked: ms,
                total_retrans: 3,
            }),
        }
    }

    /// What a history does: push, remembering the newest's time.
    fn push_all(samples: impl IntoIterator<Item = Sample>, cap: usize) -> (Samples, Stamp) {
        let mut s = Samples::default();
        let mut last = Stamp::from_ns(0);
        for sample in samples {
            s.push(&sample, last, cap);
            last = Stamp::of(sample.at);
        }
        (s, last)
    }

    fn oldest_first(s: &Samples, last: Stamp) -> Vec<Sample> {
        let mut got: Vec<Sample> = s.newest_first(last).collect();
        got.reverse();
        got
    }

    #[test]
    fn reads_back_what_went_in_and_keeps_the_last_cap() {
        let (mut s, last) = push_all((0..10).map(|ms| at(ms, ms % 2 == 0)), 3);
        assert_eq!(
            oldest_first(&s, last),
            vec![at(7, false), at(8, true), at(9, false)]
        );
        // A smaller cap (a config change) drops the oldest.
        s.push(&at(10, true), last, 2);
        let last = Stamp::of(at(10, true).at);
        assert_eq!(oldest_first(&s, last), vec![at(9, false), at(10, true)]);
        assert_eq!(s.newest_first(last).len(), 2);
    }

    #[test]
    fn any_values_read_back_exactly_in_place_or_on_the_heap() {
        // Times going back, counters going back (a key reused), extremes of each.
        let odd = |i: u64, at_ns: u64, rx: u64| Sample {
            at: Stamp::from_ns(at_ns).time(),
            recv_q: u32::MAX - i as u32,
            send_q: (i * 7919) as u32,
            counters: (i % 3 != 1).then_some(TcpCounters {
                bytes_received: rx,
                bytes_acked: rx.rotate_left(17),
                total_retrans: (i as u32).wrapping_mul(0x9e37_79b9),
            }),
        };
        let samples: Vec<Sample> = [
            (0, u64::MAX, 0),
            (1, 1, u64::MAX),
            (2, 1_764_600_000_123_456_789, 5),
            (3, 1_764_600_001_000_000_000, 4),
            (4, 0, 1 << 63),
            (5, 1_764_600_002_000_000_007, 9_000_000_000),
        ]
        .into_iter()
        .map(|(i, at, rx)| odd(i, at, rx))
        .collect();
        for cap in 1..=8 {
            let (s, last) = push_all(samples.iter().copied(), cap);
            let want = &samples[samples.len().saturating_sub(cap)..];
            assert_eq!(oldest_first(&s, last), want, "cap {cap}");
        }
        let (s, _) = push_all(samples.iter().copied(), 6);
        assert!(
            matches!(s, Samples::Heap { .. }),
            "that much goes to the heap"
        );
        // Back in place once the samples are small again.
        let (s, _) = push_all(
            samples.iter().copied().chain((0..3).map(|ms| at(ms, true))),
            3,
        );
        assert!(matches!(s, Samples::Inline { .. }));
    }

    #[test]
    fn three_idle_samples_fit_in_place() {
        let idle = |secs: u64| Sample {
            at: SystemTime::UNIX_EPOCH + Duration::new(1_764_600_000 + secs, 987_654_321),
            recv_q: 0,
            send_q: 0,
            counters: Some(TcpCounters {
                bytes_received: 1_000,
                bytes_acked: 1_001,
                total_retrans: 0,
            }),
        };
        let (s, _) = push_all((0..10).map(idle), 3);
        let Samples::Inline { len, count, .. } = s else {
            panic!("on the heap: {s:?}");
        };
        // The newest: queues 1 + 1, retransmits 1, counters 2 + 2; each older one
        // its time (5: a second back in nanoseconds) and 5 bytes of no change.
        assert_eq!((count, len), (3, 7 + 2 * 10));
        assert_eq!(std::mem::size_of::<Samples>(), 40);
    }
}
