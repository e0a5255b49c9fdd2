//! Amounts as a person reads them, for every view that shows bytes: binary units.

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `n` in the largest unit it reaches, and that unit.
fn scaled(n: f64) -> (f64, &'static str) {
    let mut value = n.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    (value, UNITS[unit])
}

/// A byte counter: "512 B", "14.1 KiB", "977.1 KiB". Always one decimal above bytes,
/// so a counter that moves is seen moving.
pub fn bytes(n: u64) -> String {
    match scaled(n as f64) {
        (value, "B") => format!("{value:.0} B"),
        (value, unit) => format!("{value:.1} {unit}"),
    }
}

/// A rate in bytes per second: "812 B/s", "12.5 KiB/s", "340 MiB/s". At most three
/// significant digits, to fit a narrow column.
pub fn rate(bytes_per_sec: f64) -> String {
    match scaled(bytes_per_sec) {
        (value, unit) if unit == "B" || value >= 100.0 => format!("{value:.0} {unit}/s"),
        (value, unit) => format!("{value:.1} {unit}/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_rates_read_like_ls_h() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(14_480), "14.1 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
        assert_eq!(bytes(5 << 40), "5.0 TiB");
        assert_eq!(rate(0.0), "0 B/s");
        assert_eq!(rate(812.4), "812 B/s");
        assert_eq!(rate(12.5 * 1024.0), "12.5 KiB/s");
        assert_eq!(rate(340.0 * 1024.0 * 1024.0), "340 MiB/s");
        assert_eq!(rate(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB/s");
    }
}
