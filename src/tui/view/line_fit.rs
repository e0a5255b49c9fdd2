//! One screen row made of parts (the header's title line, the footer's key hints, a
//! pane's title): where the row is too narrow, the least important part is shortened
//! or dropped first, so what stays is whole rather than cut at the right edge.

use ratatui::text::{Line, Span};

/// One form of a part: its spans, drawn side by side.
pub type Form = Vec<Span<'static>>;

/// A part's forms, longest first; past the last one the part is dropped.
pub type Part = Vec<Form>;

/// `lead`, then `parts` joined by `sep`, in at most `room` cells: each part starts in
/// its first form; while the row is too wide, `steps` are taken in turn, each moving
/// the part it names (an index into `parts`) to its next form, or dropping it after
/// its last; then any step the later ones made needless is undone. What still does
/// not fit after every step is cut at the screen's edge.
pub fn fit(lead: &str, parts: Vec<Part>, sep: &str, steps: &[usize], room: u16) -> Line<'static> {
    let mut chosen = vec![0usize; parts.len()];
    let width_of = |form: &Form| form.iter().map(Span::width).sum::<usize>();
    let total = |chosen: &[usize]| {
        let shown: Vec<usize> = parts
            .iter()
            .zip(chosen)
            .filter_map(|(forms, i)| forms.get(*i).map(width_of))
            .collect();
        let seps = sep.chars().count() * shown.len().saturating_sub(1);
        lead.chars().count() + shown.iter().sum::<usize>() + seps
    };
    let mut taken = Vec::new();
    for &step in steps {
        if total(&chosen) <= usize::from(room) {
            break;
        }
        if let Some(at) = chosen.get_mut(step) {
            *at += 1;
            taken.push(step);
        }
    }
    // A step taken early may not have been needed once later ones were: undone where
    // the row still fits, the last taken (the more important part) first.
    for &step in taken.iter().rev() {
        chosen[step] -= 1;
        if total(&chosen) > usize::from(room) {
            chosen[step] += 1;
        }
    }
    let mut spans = vec![Span::raw(lead.to_string())];
    let mut first = true;
    for (mut forms, i) in parts.into_iter().zip(chosen) {
        if i >= forms.len() {
            continue;
        }
        if !first {
            spans.push(Span::raw(sep.to_string()));
        }
        first = false;
        spans.append(&mut forms.swap_remove(i));
    }
    Line::from(spans)
}

/// `text` in at most `width` characters, ending in "…" where cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn part(forms: &[&str]) -> Part {
        forms
            .iter()
            .map(|f| vec![Span::raw(f.to_string())])
            .collect()
    }

    #[test]
    fn shortens_in_the_order_given_until_it_fits() {
        let parts = || vec![part(&["aaaa", "a"]), part(&["bbbb", "b"]), part(&["cc"])];
        let steps = [1, 0, 1, 0];
        assert_eq!(text(&fit(" ", parts(), "·", &steps, 40)), " aaaa·bbbb·cc");
        assert_eq!(text(&fit(" ", parts(), "·", &steps, 10)), " aaaa·b·cc");
        assert_eq!(text(&fit(" ", parts(), "·", &steps, 7)), " a·b·cc");
        // Past its last form a part goes, with its separator.
        assert_eq!(text(&fit(" ", parts(), "·", &steps, 5)), " a·cc");
        assert_eq!(text(&fit(" ", parts(), "·", &steps, 2)), " cc");
        // "bb" went short first, yet with "a" short too it fits long again.
        let parts = vec![part(&["aaaaaa", "a"]), part(&["bb", "b"])];
        assert_eq!(text(&fit(" ", parts, "·", &[1, 0], 6)), " a·bb");
    }

    #[test]
    fn cuts_with_an_ellipsis() {
        assert_eq!(cut("web-1", 8), "web-1");
        assert_eq!(cut("a-very-long-host", 8), "a-very-…");
    }
}
