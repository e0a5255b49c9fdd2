//! A socket's recent samples, packed: 40 bytes each instead of `Sample`'s 56, in a
//! buffer allocated once at the length the tracker keeps (a VecDeque grown by pushes
//! rounds up: 4 slots for 3 samples). At 100k sockets and 3 samples, ~11 MB less.

use std::time::{Duration, SystemTime};

use super::{Sample, TcpCounters};

/// Oldest first; read as `Sample`s.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<Packed>);

/// A `Sample` with its time as nanoseconds since the epoch (snapshot times are after
/// it; an earlier one would read back as the epoch) and its counters unwrapped.
#[derive(Clone, Copy, Debug)]
struct Packed {
    at_ns: u64,
    recv_q: u32,
    send_q: u32,
    bytes_received: u64,
    bytes_acked: u64,
    total_retrans: u32,
    counted: bool,
}

impl Packed {
    fn of(s: Sample) -> Packed {
        let at = s.at.duration_since(SystemTime::UNIX_EPOCH);
        let c = s.counters.unwrap_or_default();
        Packed {
            at_ns: at.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            recv_q: s.recv_q,
            send_q: s.send_q,
            bytes_received: c.bytes_received,
            bytes_acked: c.bytes_acked,
            total_retrans: c.total_retrans,
            counted: s.counters.is_some(),
        }
    }

    fn sample(&self) -> Sample {
        Sample {
            at: SystemTime::UNIX_EPOCH + Duration::from_nanos(self.at_ns),
            recv_q: self.recv_q,
            send_q: self.send_q,
            counters: self.counted.then_some(TcpCounters {
                bytes_received: self.bytes_received,
                bytes_acked: self.bytes_acked,
                total_retrans: self.total_retrans,
            }),
        }
    }
}

impl Samples {
    /// The first sample, with room for `cap` in all.
    pub(super) fn first(sample: Sample, cap: usize) -> Samples {
        let mut v = Vec::with_capacity(cap.max(1));
        v.push(Packed::of(sample));
        Samples(v)
    }

    /// Adds the newest, dropping the oldest past `cap`; never grows past `cap`.
    pub(super) fn push(&mut self, sample: Sample, cap: usize) {
        let cap = cap.max(1);
        if self.0.len() >= cap {
            self.0.drain(..=self.0.len() - cap);
        }
        if self.0.capacity() < cap {
            self.0.reserve_exact(cap - self.0.len());
        }
        self.0.push(Packed::of(sample));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<Sample> {
        self.0.get(i).map(Packed::sample)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + Clone + '_ {
        self.0.iter().map(Packed::sample)
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn reads_back_what_went_in_and_keeps_the_last_cap() {
        let mut s = Samples::first(at(0, true), 3);
        for ms in 1..10 {
            s.push(at(ms, ms % 2 == 0), 3);
            assert!(s.0.capacity() == 3, "never grows past cap");
        }
        let got: Vec<Sample> = s.iter().collect();
        assert_eq!(got, vec![at(7, false), at(8, true), at(9, false)]);
        // A smaller cap (a config change) drops the oldest.
        s.push(at(10, true), 2);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![at(9, false), at(10, true)]
        );
        assert_eq!(std::mem::size_of::<Packed>(), 40);
    }
}
