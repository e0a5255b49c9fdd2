//! The cgroup layouts of each runtime, as v2 and as v1-only hosts write them, and
//! names from state files written into a temporary root.

use std::fs;

use super::*;

const ID: &str = "4f1c0a9d3e5b7c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a";
const UID: &str = "0f4c2e1a-9b8d-4c7e-a6f5-3d2c1b0a9e8f";

fn one(text: &str) -> Option<Container> {
    parse(text.as_bytes())
}

#[test]
fn v2_layouts_of_each_runtime() {
    let cases = [
        (format!("0::/system.slice/docker-{ID}.scope\n"), "docker"),
        (format!("0::/docker/{ID}\n"), "docker"),
        (
            format!("0::/machine.slice/libpod-{ID}.scope/container\n"),
            "podman",
        ),
        (format!("0::/libpod_parent/libpod-{ID}\n"), "podman"),
        (
            format!("0::/system.slice/cri-containerd-{ID}.scope\n"),
            "containerd",
        ),
        (format!("0::/system.slice/crio-{ID}.scope\n"), "cri-o"),
    ];
    for (text, runtime) in cases {
        let c = one(&text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(
            (c.runtime, c.id.as_str(), c.pod),
            (runtime, ID, None),
            "{text}"
        );
    }
}

#[test]
fn kubernetes_pods_under_both_drivers() {
    let underscored = UID.replace('-', "_");
    let systemd = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{underscored}.slice/cri-containerd-{ID}.scope\n"
    );
    let c = one(&systemd).unwrap();
    assert_eq!((c.runtime, c.id.as_str()), ("containerd", ID));
    assert_eq!(c.pod.unwrap().uid, UID);
    let cgroupfs = format!("0::/kubepods/burstable/pod{UID}/{ID}\n");
    let c = one(&cgroupfs).unwrap();
    assert_eq!(c.id, ID);
    assert_eq!(c.pod.unwrap().uid, UID);
    // The pod's own cgroup, with no container in it, is no container.
    assert_eq!(one(&format!("0::/kubepods/burstable/pod{UID}\n")), None);
}

#[test]
fn lxc_and_nspawn_are_named_by_their_cgroup() {
    let c = one("0::/lxc.payload.web1/init.scope\n").unwrap();
    assert_eq!((c.runtime, c.name.as_deref()), ("lxc", Some("web1")));
    let c = one("0::/machine.slice/systemd-nspawn@deb\\x2dtest.service/payload\n").unwrap();
    assert_eq!((c.runtime, c.id.as_str()), ("systemd-nspawn", "deb-test"));
    let c = one("0::/machine.slice/machine-fedora.scope\n").unwrap();
    assert_eq!(c.name.as_deref(), Some("fedora"));
}

#[test]
fn no_container_for_ordinary_processes_and_monitors() {
    for text in [
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        "0::/\n",
        "0::/system.slice/docker.service\n",
        &format!("0::/machine.slice/libpod-conmon-{ID}.scope\n"),
        &format!("0::/system.slice/docker-{}.scope\n", &ID[..12]),
        "garbage without colons\n",
        "",
    ] {
        assert_eq!(one(text), None, "{text}");
    }
}

/// A v1-only host: no `0::` line; the controllers' lines carry the path. A hybrid
/// host's `0::/` line says nothing, so the v1 lines decide.
#[test]
fn v1_lines_when_v2_says_nothing() {
    let v1 = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n");
    assert_eq!(one(&v1).unwrap().runtime, "docker");
    let hybrid = format!("1:name=systemd:/kubepods/besteffort/pod{UID}/{ID}\n0::/\n");
    assert_eq!(one(&hybrid).unwrap().pod.unwrap().uid, UID);
}

#[test]
fn names_come_from_state_files_under_the_root() {
    let root = tempfile::tempdir().unwrap();
    let docker = root.path().join("var/lib/docker/containers").join(ID);
    fs::create_dir_all(&docker).unwrap();
    fs::write(docker.join("config.v2.json"), r#"{"ID":"x","Name":"/web"}"#).unwrap();
    let podman = root
        .path()
        .join("var/lib/containers/storage/overlay-containers");
    fs::create_dir_all(&podman).unwrap();
    fs::write(
        podman.join("containers.json"),
        format!(r#"[{{"id":"{ID}","names":["db"],"layer":"l"}}]"#),
    )
    .unwrap();
    fs::create_dir_all(
        root.path()
            .join(format!("var/log/pods/shop_cart-7d9_{UID}/app")),
    )
    .unwrap();

    let named = |text: String| state::name(root.path(), one(&text).unwrap());
    assert_eq!(
        named(format!("0::/system.slice/docker-{ID}.scope"))
            .name
            .as_deref(),
        Some("web")
    );
    assert_eq!(
        named(format!("0::/libpod_parent/libpod-{ID}"))
            .name
            .as_deref(),
        Some("db")
    );
    let pod = named(format!("0::/kubepods/pod{UID}/{ID}")).pod.unwrap();
    assert_eq!(pod.namespace.as_deref(), Some("shop"));
    assert_eq!(pod.name.as_deref(), Some("cart-7d9"));
    // Malformed state leaves the name unknown.
    fs::write(docker.join("config.v2.json"), "{not json").unwrap();
    assert_eq!(named(format!("0::/docker/{ID}")).name, None);
}

#[test]
fn the_cache_reads_each_cgroup_file_once_per_content() {
    let root = tempfile::tempdir().unwrap();
    let proc_dir = root.path().join("42");
    fs::create_dir_all(&proc_dir).unwrap();
    fs::write(proc_dir.join("cgroup"), format!("0::/docker/{ID}\n")).unwrap();
    let containers = Containers {
        state_root: None,
        cache: Mutex::new(HashMap::new()),
    };
    let first = containers.of(&proc_dir).unwrap();
    let second = containers.of(&proc_dir).unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    fs::write(proc_dir.join("cgroup"), "0::/\n").unwrap();
    assert_eq!(containers.of(&proc_dir), None);
}
