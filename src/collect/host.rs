//! Facts about the host (per the /proc root in use) that the views show.

use std::path::Path;

/// The kernel's host name (`<proc_root>/sys/kernel/hostname`); None in a captured
/// tree without one.
pub fn hostname(proc_root: &Path) -> Option<String> {
    let path = proc_root.join("sys/kernel/hostname");
    let bytes = super::read::prefix(&path, 256, super::read::Follow::No).ok()?;
    let name = String::from_utf8_lossy(&bytes).trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_the_tree_in_use() {
        assert!(hostname(Path::new(crate::collect::PROC)).is_some());
        let tree = tempfile::tempdir().unwrap();
        assert_eq!(hostname(tree.path()), None);
        std::fs::create_dir_all(tree.path().join("sys/kernel")).unwrap();
        std::fs::write(tree.path().join("sys/kernel/hostname"), "captured-1\n").unwrap();
        assert_eq!(hostname(tree.path()).as_deref(), Some("captured-1"));
    }
}
