//! `sockscope completions SHELL` and `sockscope man` are generated from the command
//! surface, so every subcommand must show up in them.

use assert_cmd::Command;

const SUBCOMMANDS: [&str; 10] = [
    "list", "doctor", "export", "watch", "record", "replay", "demo", "kill", "close", "man",
];

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("sockscope")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_name_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
        assert!(
            script.contains("listening"),
            "{shell} completions lack --listening"
        );
    }
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let page = run(&["man"]);
    assert!(page.contains(".TH sockscope 1"));
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
}

#[test]
fn an_unknown_shell_is_one_line_and_exit_2() {
    let out = Command::cargo_bin("sockscope")
        .unwrap()
        .args(["completions", "nosh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosh"), "{err}");
}
