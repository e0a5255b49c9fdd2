//! Holds ARCHITECTURE.md and the README's JSON schema to the code: the module rules
//! (no /proc path outside collect/, ratatui and crossterm only in the tui) and the
//! schema tables. A failure here says which document or file went stale.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every .rs file under src/, with its code up to its unit tests.
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
    // The code, not its unit tests (which may name what they check for): neither a
    // file's `mod tests { .. }` nor the files its `#[cfg(test)] mod NAME;` names
    // (a/NAME.rs beside a.rs).
    let test_files: Vec<PathBuf> = files
        .iter()
        .flat_map(|(path, text)| {
            let dir = path.with_extension("");
            text.split("#[cfg(test)]\nmod ")
                .skip(1)
                .filter_map(|rest| rest.split_once(";\n").map(|(name, _)| name.to_string()))
                .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .map(move |name| dir.join(format!("{name}.rs")))
                .collect::<Vec<_>>()
        })
        .collect();
    files.retain(|(path, _)| !test_files.contains(path));
    for (_, text) in &mut files {
        let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap_or("");
        *text = code.to_string();
    }
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

/// The module table of ARCHITECTURE.md: each module with the modules it may import
/// (None: anything).
fn module_table() -> Vec<(String, Option<Vec<String>>)> {
    let doc = fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let rows: Vec<(String, String)> = doc
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let name = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let imports = cells.last()?.strip_suffix(" |")?;
            Some((name.to_string(), imports.to_string()))
        })
        .collect();
    let names: Vec<String> = rows.iter().map(|(n, _)| n.clone()).collect();
    rows.iter()
        .enumerate()
        .map(|(i, (name, imports))| {
            let allowed = if imports == "everything" {
                None
            } else if let Some(but) = imports.strip_prefix("all of the above but ") {
                // "all of the above but output; only here: …"
                let except = but.split([';', ',']).next().unwrap_or("").trim();
                Some(
                    names[..i]
                        .iter()
                        .filter(|n| *n != except)
                        .cloned()
                        .collect(),
                )
            } else {
                let words = imports.split(", ").map(|w| {
                    let first = w.split_whitespace().next().unwrap_or("");
                    first.trim_end_matches("'s").to_string()
                });
                Some(words.collect())
            };
            (name.clone(), allowed)
        })
        .collect()
}

#[test]
fn modules_import_what_architecture_md_allows() {
    let table = module_table();
    let lib = fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).unwrap();
    for module in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let module = module.trim_end_matches(';');
        assert!(
            table.iter().any(|(name, _)| name == module),
            "ARCHITECTURE.md's module table has no row for `{module}`: add one"
        );
    }
    for (module, allowed) in &table {
        let Some(allowed) = allowed else { continue };
        let mine = format!("src/{module}");
        for (path, text) in sources() {
            let file = relative(&path);
            if file != format!("{mine}.rs") && !file.starts_with(&format!("{mine}/")) {
                continue;
            }
            for used in text.split("crate::").skip(1) {
                let name: String = used
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let fine = name == *module
                    || name == "test_sockets"
                    || name.is_empty()
                    || allowed.contains(&name);
                assert!(
                    fine,
                    "{file} uses crate::{name}, which ARCHITECTURE.md does not let `{module}` import"
                );
            }
        }
    }
}
