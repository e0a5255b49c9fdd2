//! Fitting the live view's columns to the screen: which show, how wide, and how a
//! cell too long for its column is shortened. Pure arithmetic over widths, so the
//! table view only measures its cells and draws what this decides.
//!
//! The order is `Column::NARROWING`: on a narrow screen its steps shrink a column to
//! its `Spec::min` or drop it, in turn, until the rest fit; room left over goes back
//! to the shrunk ones (most important first), then to the last `Width::Fill` column.

use std::borrow::Cow;

use super::{Column, Width};

/// One step of narrowing the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// As narrow as its cells allow (its short form, or `Spec::min` with an ellipsis).
    Shrink(Column),
    /// No narrower than its usual cells (`Need::usual`): the rare long one, a unix
    /// socket's path among addresses, shortened, before another column goes.
    Trim(Column),
    Drop(Column),
}

/// What one column's cells need: its widest cell, and its widest short form where it
/// has one (ss's state names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    pub widest: u16,
    pub widest_short: Option<u16>,
    /// The widest of the usual cells, where some are unusually long (an address
    /// column's widest address, its paths left out).
    pub usual: Option<u16>,
}

/// The widest a column wants, the least it takes, for these cells.
fn bounds(column: Column, need: Need) -> (u16, u16) {
    let spec = column.spec();
    // Room for the header and its sort arrow.
    let header = spec.header.chars().count() as u16 + 1;
    let wanted = match spec.width {
        Width::Fixed(n) => n,
        Width::Fit { max } => need.widest.clamp(header, max.max(header)),
        // Fill columns want their widest cell; leftover room comes on top.
        Width::Fill => need.widest.max(header),
    };
    let least = match need.widest_short {
        Some(short) => short.max(header).min(wanted),
        None => spec.min.max(header).min(wanted),
    };
    (wanted, least)
}

/// Each column's width on a screen `room` cells wide (after the gutter), `None` for a
/// dropped one; columns are `spacing` apart. Those in `keep` (what the user asked to
/// see: the sort's column, PEER after `p`) shrink but are never dropped.
pub fn widths(
    columns: &[Column],
    needs: &[Need],
    room: u16,
    spacing: u16,
    keep: &[Column],
) -> Vec<Option<u16>> {
    let bounds: Vec<(u16, u16)> = columns
        .iter()
        .zip(needs)
        .map(|(c, n)| bounds(*c, *n))
        .collect();
    let mut widths: Vec<Option<u16>> = bounds.iter().map(|(wanted, _)| Some(*wanted)).collect();
    let total = |widths: &[Option<u16>]| {
        let shown: Vec<u32> = widths.iter().flatten().map(|w| u32::from(*w)).collect();
        shown.iter().sum::<u32>() + u32::from(spacing) * (shown.len().saturating_sub(1) as u32)
    };
    let room32 = u32::from(room);
    let at = |c: Column| columns.iter().position(|x| *x == c);
    for step in Column::NARROWING {
        let over = total(&widths).saturating_sub(room32);
        if over == 0 {
            break;
        }
        match step {
            Step::Shrink(c) => {
                if let Some(i) = at(c)
                    && let Some(w) = widths[i]
                {
                    let less = w.saturating_sub(over.min(u32::from(u16::MAX)) as u16);
                    widths[i] = Some(less.max(bounds[i].1));
                }
            }
            Step::Trim(c) => {
                if let Some(i) = at(c)
                    && let Some(w) = widths[i]
                    && let Some(usual) = needs[i].usual
                {
                    let less = w.saturating_sub(over.min(u32::from(u16::MAX)) as u16);
                    widths[i] = Some(less.max(usual.max(bounds[i].1)).min(w));
                }
            }
            Step::Drop(c) => {
                if let Some(i) = at(c)
                    && !keep.contains(&c)
                {
                    widths[i] = None;
                }
            }
        }
    }
    // Room left (a dropped column freed more than was needed) back to the shrunk,
    // the most important first.
    for step in Column::NARROWING.iter().rev() {
        let (Step::Shrink(c) | Step::Trim(c) | Step::Drop(c)) = *step;
        let spare = room32.saturating_sub(total(&widths)) as u16;
        if let Some(i) = at(c)
            && let Some(w) = widths[i]
        {
            widths[i] = Some(w + spare.min(bounds[i].0 - w));
        }
    }
    // 4: the rest to the last fill column shown.
    let fill = (0..columns.len())
        .rev()
        .find(|i| widths[*i].is_some() && columns[*i].spec().width == Width::Fill);
    if let Some(i) = fill {
        let spare = room32.saturating_sub(total(&widths)) as u16;
        widths[i] = widths[i].map(|w| w + spare);
    }
    widths
}

/// `text` cut to `width` cells with an ellipsis. An address keeps its port
/// (`127.0.…:51234`), a path its end (`…/system_bus_socket`), anything else its start.
pub fn squeeze(column: Column, text: &str, width: u16) -> Cow<'_, str> {
    let width = usize::from(width);
    let len = text.chars().count();
    if len <= width {
        return Cow::Borrowed(text);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let head = |n: usize| text.chars().take(n).collect::<String>();
    let tail = |n: usize| text.chars().skip(len - n).collect::<String>();
    let endpoint = matches!(column, Column::Local | Column::Remote);
    if endpoint && (text.starts_with('/') || text.starts_with('@')) {
        return Cow::Owned(format!("…{}", tail(width - 1)));
    }
    if let Some(port) = port_part(column, text) {
        let port_len = port.chars().count();
        if port_len < width {
            return Cow::Owned(format!("{}…{port}", head(width - port_len - 1)));
        }
    }
    Cow::Owned(format!("{}…", head(width - 1)))
}

/// Whether `squeeze` keeps the port of `text` at `width`: false for an endpoint whose
/// port (a long service name) does not fit, which is then better written with its
/// number (`…:445` rather than `192.168.1.…`).
pub fn keeps_port(column: Column, text: &str, width: u16) -> bool {
    let width = usize::from(width);
    text.chars().count() <= width
        || port_part(column, text).is_none_or(|port| port.chars().count() < width)
}

/// An endpoint's `:port` part: a number, `*`, or a service name (`https`); not the
/// end of an IPv6 address, nor a unix path.
fn port_part(column: Column, text: &str) -> Option<&str> {
    if !matches!(column, Column::Local | Column::Remote) || text.starts_with(['/', '@']) {
        return None;
    }
    let port = &text[text.rfind(':')?..];
    (port.chars().count() <= 17 && !port.contains(']')).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_their_port_and_paths_their_end() {
        assert_eq!(
            squeeze(Column::Local, "127.0.0.1:51234", 15),
            "127.0.0.1:51234"
        );
        assert_eq!(
            squeeze(Column::Local, "127.0.0.1:51234", 12),
            "127.0…:51234"
        );
        assert_eq!(
            squeeze(Column::Remote, "[2001:db8::1]:443", 10),
            "[2001…:443"
        );
        assert_eq!(squeeze(Column::Remote, "[2001:db8::1]:443", 9), "[200…:443");
        assert_eq!(
            squeeze(Column::Local, "/run/dbus/system_bus_socket", 12),
            "…_bus_socket"
        );
        // A service name counts as the port too.
        assert_eq!(
            squeeze(Column::Local, "192.168.100.200:https", 12),
            "192.1…:https"
        );
        assert_eq!(
            squeeze(Column::Process, "1234 systemd-resolve", 12),
            "1234 system…"
        );
        // A service name too long for the width: written with its number instead.
        assert!(!keeps_port(Column::Local, "192.168.1.1:microsoft-ds", 12));
        assert!(keeps_port(Column::Local, "192.168.1.1:445", 12));
        assert!(keeps_port(Column::Local, "127.0.0.1:https", 12));
        assert!(keeps_port(Column::Process, "1234 systemd-resolve", 12));
    }

    fn need(widest: u16) -> Need {
        Need {
            widest,
            ..Need::default()
        }
    }

    /// One unix socket's long path among IPv4 addresses: cut, rather than a column
    /// dropped or the states shortened for it.
    #[test]
    fn a_long_path_is_trimmed_before_anything_goes() {
        let columns = [Column::State, Column::Local, Column::User];
        let state = Need {
            widest: 11,
            widest_short: Some(5),
            usual: None,
        };
        let local = Need {
            widest: 38,
            widest_short: None,
            usual: Some(15),
        };
        let widths = widths(&columns, &[state, local, need(8)], 40, 1, &[]);
        assert_eq!(widths[0], Some(11), "the states keep their names");
        assert!(widths[1] >= Some(15) && widths[1] < Some(38), "{widths:?}");
        assert!(widths[2].is_some(), "USER stays");
        assert!(widths.iter().flatten().sum::<u16>() + 2 <= 40);
    }

    #[test]
    fn the_least_important_shrink_then_drop() {
        let columns = [
            Column::Proto,
            Column::State,
            Column::Local,
            Column::Remote,
            Column::RecvQ,
            Column::Process,
            Column::User,
        ];
        let state = Need {
            widest: 11,
            widest_short: Some(5),
            usual: None,
        };
        let needs = [
            need(3),
            state,
            need(20),
            need(20),
            need(7),
            need(20),
            need(8),
        ];
        // Wide: every column as wanted, the rest to PROCESS.
        let wide = widths(&columns, &needs, 200, 1, &[]);
        assert_eq!(wide[..5], [Some(5), Some(11), Some(20), Some(20), Some(7)]);
        assert_eq!(wide[6], Some(8));
        assert_eq!(wide.iter().flatten().sum::<u16>() + 6, 200);
        // Narrow: the states shorten, PROCESS shrinks, USER goes; REMOTE keeps
        // its width, LOCAL shrinks (its tail shows).
        let narrow = widths(&columns, &needs, 70, 1, &[]);
        assert_eq!(narrow[6], None);
        assert!(narrow[2] >= Some(12));
        assert_eq!(narrow[3], Some(20));
        assert!(narrow.iter().flatten().sum::<u16>() + 5 <= 70);
        // Very narrow: the addresses shrink, the queues go; PROCESS is kept over them.
        let tight = widths(&columns, &needs, 50, 1, &[]);
        assert_eq!(tight[4], None);
        assert!(tight[5].is_some());
        assert!(tight[1] < Some(11));
        assert!(tight.iter().flatten().sum::<u16>() + 3 <= 50);
        // Kept (the user sorts by USER): it shrinks, and the next in line goes instead.
        let kept = widths(&columns, &needs, 70, 1, &[columns[6]]);
        assert!(kept[6].is_some());
        assert!(kept.iter().flatten().sum::<u16>() + 6 <= 70);
    }
}
