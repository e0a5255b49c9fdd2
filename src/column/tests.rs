use super::*;

#[test]
fn headers_and_csv_names_are_unique() {
    let headers: std::collections::HashSet<_> = Column::TUI.map(|c| c.spec().header).into();
    assert_eq!(headers.len(), Column::TUI.len());
    let names: std::collections::HashSet<_> = Column::CSV.map(|c| c.spec().csv).into();
    assert_eq!(names.len(), Column::CSV.len());
    assert!(!names.contains(""), "every CSV column names its JSON field");
    for c in Column::TUI {
        let drop = fit::Step::Drop(c);
        assert!(Column::NARROWING.contains(&drop), "{c:?} is never dropped");
    }
}
