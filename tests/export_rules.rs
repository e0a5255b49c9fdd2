//! The alerting rules shipped for `sockscope export` (contrib/prometheus) load in
//! Prometheus and fire when they should: `promtool check rules`, then
//! `promtool test rules` on the unit tests beside them. Needs Debian's `prometheus`.

mod export_support;

use std::process::Command;

use export_support::{cannot_run, have};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/prometheus");

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(DIR)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_check_and_pass_their_unit_tests() {
    if !have("promtool") {
        return cannot_run("promtool is not installed (apt-get install prometheus)");
    }
    promtool(&["check", "rules", "sockscope-alerts.yml"]);
    promtool(&["test", "rules", "sockscope-alerts.test.yml"]);
}
