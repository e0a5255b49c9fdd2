//! A time as nanoseconds since the epoch in 8 bytes (a `SystemTime` takes 16), for
//! the times every history keeps. Exact for every time a snapshot is taken at (from
//! 1970 to 2554, to the nanosecond); an earlier one reads back as the epoch.

use std::time::{Duration, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Stamp(u64);

impl Stamp {
    pub fn of(at: SystemTime) -> Stamp {
        Stamp(ns_of(at))
    }

    pub fn from_ns(ns: u64) -> Stamp {
        Stamp(ns)
    }

    pub fn ns(self) -> u64 {
        self.0
    }

    pub fn time(self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.ns())
    }
}

/// Nanoseconds since the epoch (0 before it; past 2554, the last one there is).
pub(super) fn ns_of(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_exactly_and_costs_8_bytes() {
        for at in [
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH + Duration::new(1_764_600_000, 123_456_789),
        ] {
            assert_eq!(Stamp::of(at).time(), at);
        }
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(Stamp::of(before).time(), SystemTime::UNIX_EPOCH);
        assert_eq!(std::mem::size_of::<Stamp>(), 8);
    }
}
