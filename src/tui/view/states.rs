//! The state bar: shown sockets per TCP state, plus UDP and unix, each with a
//! sparkline of its count over the recent refreshes when that count has changed
//! (from the app's Tracker, which counts every collected socket: so not under a filter).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::header::thousands;
use super::style;
use crate::model::TcpState;
use crate::tui::app::App;
use crate::tui::history::{self, Bucket};

const SPARK_WIDTH: usize = 8;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One line, or two when it does not fit.
pub fn height(app: &App, width: u16) -> u16 {
    lines(app, width).len() as u16
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(Paragraph::new(lines(app, area.width)), area);
}

/// The groups on one line, with ss's short state names when the full ones do not
/// fit; else on two, wrapped between groups, never inside one. Where two lines do not
/// hold every group, the sparklines give way (first those of empty states, then they
/// narrow, then they go), so no group is cut off the end.
fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let fits = |groups: &[Vec<Span<'static>>]| {
        let w: usize = groups.iter().flatten().map(|s| s.width()).sum();
        w + 1 + 3 * groups.len().saturating_sub(1) <= width
    };
    let long = groups_of(app, false, Sparks::All(SPARK_WIDTH));
    if fits(&long) {
        return wrapped(long, width).unwrap_or_default();
    }
    let sparks = [
        Sparks::All(SPARK_WIDTH),
        Sparks::NonZero(SPARK_WIDTH),
        Sparks::NonZero(SPARK_WIDTH / 2),
        Sparks::None,
    ];
    for spark in sparks {
        if let Some(lines) = wrapped(groups_of(app, true, spark), width) {
            return lines;
        }
    }
    wrapped_anyway(groups_of(app, true, Sparks::None), width)
}

/// The groups on at most two lines of `width`, or None where they do not fit.
fn wrapped(groups: Vec<Vec<Span<'static>>>, width: usize) -> Option<Vec<Line<'static>>> {
    let lines = wrapped_anyway(groups, width);
    let fits = lines.iter().all(|l| l.width() <= width);
    fits.then_some(lines)
}

/// As `wrapped`, the rest of the second line cut at the screen's edge.
fn wrapped_anyway(groups: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![vec![Span::raw(" ")]];
    let mut used = 1;
    for (i, group) in groups.into_iter().enumerate() {
        let w: usize = group.iter().map(|s| s.width()).sum();
        if i > 0 && used + 3 + w > width && lines.len() < 2 {
            lines.push(vec![Span::raw(" ")]);
            used = 1;
        } else if i > 0 {
            lines
                .last_mut()
                .unwrap()
                .push(Span::styled(" │ ", style::DIM));
            used += 3;
        }
        lines.last_mut().unwrap().extend(group);
        used += w;
    }
    lines.into_iter().map(Line::from).collect()
}

/// Which groups draw their sparkline, and how wide.
#[derive(Clone, Copy)]
enum Sparks {
    All(usize),
    /// Not those at 0 now (a state sockets passed through).
    NonZero(usize),
    None,
}

/// A group per bucket: its name, count and sparkline.
fn groups_of(app: &App, short: bool, sparks: Sparks) -> Vec<Vec<Span<'static>>> {
    let mut out = Vec::new();
    for bucket in buckets(app) {
        let mut spans = Vec::new();
        let count = app.counts.get(&bucket).copied().unwrap_or(0);
        let label = match bucket {
            Bucket::Tcp(state) if short => state.ss_name(),
            _ => bucket.label(),
        };
        spans.push(Span::styled(label, style::bucket(bucket)));
        spans.push(Span::raw(format!(" {}", thousands(count))));
        let spark_width = match sparks {
            Sparks::All(w) => w,
            Sparks::NonZero(w) if count > 0 => w,
            _ => 0,
        };
        let series = history::counts(&app.tracked, bucket);
        let changed = series.iter().min() != series.iter().max();
        if spark_width > 0 && app.filter.query.is_empty() && changed {
            spans.push(Span::styled(
                format!(" {}", sparkline(&series, spark_width)),
                style::bucket(bucket),
            ));
        }
        out.push(spans);
    }
    out
}

/// LISTEN and ESTABLISHED always; other TCP states while they have or (unfiltered)
/// recently had sockets; then UDP and unix; then raw, packet, netlink... while they have
/// or recently had sockets.
fn buckets(app: &App) -> Vec<Bucket> {
    // The history counts every collected socket, so it is not asked under a filter.
    let unfiltered = app.filter.query.is_empty();
    let tcp = TcpState::ALL.into_iter().map(Bucket::Tcp).filter(|b| {
        matches!(b, Bucket::Tcp(TcpState::Listen | TcpState::Established))
            || app.counts.contains_key(b)
            || (unfiltered && history::had_any(&app.tracked, *b))
    });
    // The other protocols only while they have sockets: most hosts have no SCTP.
    let more = Bucket::more().filter(|b| {
        app.counts.contains_key(b) || (unfiltered && history::had_any(&app.tracked, *b))
    });
    tcp.chain([Bucket::Udp, Bucket::Unix]).chain(more).collect()
}

/// The last samples as at most `width` bars, each the highest of the samples it covers,
/// scaled to the highest of all; zero is the lowest bar.
pub fn sparkline(samples: &[usize], width: usize) -> String {
    let per_bar = samples.len().div_ceil(width).max(1);
    // Align the chunks to the newest sample, so the last bar is always the latest.
    let skip = samples.len() % per_bar;
    let mut peaks: Vec<usize> = Vec::new();
    if skip > 0 {
        peaks.push(samples[..skip].iter().copied().max().unwrap_or(0));
    }
    peaks.extend(
        samples[skip..]
            .chunks(per_bar)
            .map(|c| c.iter().copied().max().unwrap_or(0)),
    );
    let start = peaks.len().saturating_sub(width);
    let peaks = &peaks[start..];
    let top = peaks.iter().copied().max().unwrap_or(0).max(1);
    peaks
        .iter()
        .map(|&n| match n {
            0 => BARS[0],
            n => BARS[(n * 7).div_ceil(top).clamp(1, 7)],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 8), "▁▂▃▅█");
        assert_eq!(sparkline(&[3, 3], 8), "██");
        // 16 samples in 8 bars: pairs, each its max.
        let samples: Vec<usize> = (0..16).collect();
        assert_eq!(sparkline(&samples, 8).chars().count(), 8);
        assert!(sparkline(&samples, 8).ends_with('█'));
    }
}
