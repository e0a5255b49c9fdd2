//! Holds ARCHITECTURE.md and the README's JSON schema to the code: the module rules
//! (no /proc path outside collect/, ratatui and crossterm only in the tui) and the
//! schema tables. A failure here says which document or file went stale.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every .rs file under src/, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(ROOT).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    assert!(files.len() > 20, "src/ was read");
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(ROOT).unwrap().display().to_string()
}

#[test]
fn os_paths_are_read_in_collect_only() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !relative(path).starts_with("src/collect"))
        .filter(|(_, text)| text.contains("\"/proc"))
        .map(|(path, _)| relative(&path))
        .collect();
    assert!(
        offenders.is_empty(),
        "a \"/proc\" path outside src/collect/ (read it through collect, under the proc root): {offenders:?}"
    );
}

#[test]
fn only_the_tui_draws() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, _)| !relative(path).starts_with("src/tui"))
        .filter(|(_, text)| text.contains("ratatui") || text.contains("crossterm"))
        .map(|(path, _)| relative(&path))
        .collect();
    assert!(
        offenders.is_empty(),
        "ratatui/crossterm outside src/tui: {offenders:?}"
    );
}

fn readme() -> String {
    fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

#[test]
fn the_readme_has_doctors_schema_as_the_rules_make_it() {
    let schema = sockscope::diagnose::findings_schema();
    assert!(
        readme().contains(&schema),
        "README.md's `doctor --json` table is stale; it should read:\n{schema}"
    );
}

/// The top-level fields of a socket in `list --json`.
fn socket_fields() -> Vec<String> {
    use sockscope::model::{Socket, SocketType, TcpState};
    let socket = Socket::unix(SocketType::Stream, TcpState::Listen, None, 1);
    let value = serde_json::to_value(&socket).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_readme_names_every_field_of_a_listed_socket() {
    let readme = readme();
    for field in socket_fields() {
        // A row of its own, or one of a pair ("| local_addr, remote_addr |").
        let named = [
            format!("\n| {field} |"),
            format!("\n| {field},"),
            format!(", {field} |"),
        ];
        assert!(
            named.iter().any(|n| readme.contains(n)),
            "README.md's `list --json` table lacks {field}"
        );
    }
}

#[test]
fn every_csv_column_is_a_json_field() {
    let fields = socket_fields();
    for column in sockscope::column::Column::CSV {
        let name = column.spec().csv;
        assert!(
            fields.iter().any(|f| f == name),
            "CSV column {name} is no JSON field"
        );
    }
}
