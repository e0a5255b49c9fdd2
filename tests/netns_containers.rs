//! Processes moved into real cgroups laid out as docker and kubernetes (containerd)
//! lay them out, in this machine's cgroup v2 hierarchy (/sys/fs/cgroup on a pure v2
//! mount, /sys/fs/cgroup/unified on a hybrid one), under a prefix this test owns and
//! removes. The runtimes' state files are written into a temporary root that
//! SOCKSCOPE_STATE_ROOT points at: no container runtime runs here.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn cannot_run(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
}

/// The cgroup v2 hierarchy's mount point.
fn v2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").is_file())
}

/// A tree of cgroups under one prefix, removed deepest first on drop.
struct Cgroups {
    top: PathBuf,
}

impl Cgroups {
    fn make(root: &Path, tag: &str) -> Option<Cgroups> {
        let top = root.join(format!("sockscope-test-{}-{tag}", std::process::id()));
        match fs::create_dir(&top) {
            Ok(()) => Some(Cgroups { top }),
            Err(e) => {
                cannot_run(&format!(
                    "cannot create a cgroup in {}: {e}",
                    root.display()
                ));
                None
            }
        }
    }

    /// Makes `rel` under the prefix and moves `pid` into it.
    fn enter(&self, rel: &str, pid: u32) -> PathBuf {
        let dir = self.top.join(rel);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
        dir
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        // Deepest first; an emptied cgroup may take a moment to be released.
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut stack = vec![self.top.clone()];
        while let Some(dir) = stack.pop() {
            if let Ok(entries) = fs::read_dir(&dir) {
                stack.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
            dirs.push(dir);
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            for _ in 0..50 {
                if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A python process holding a listener on 127.0.0.1:<any>; killed on drop.
struct Listener {
    child: Child,
    port: u16,
}

impl Listener {
    fn start() -> Listener {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(
                "import socket,sys\nl=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(4)\n\
                 print(l.getsockname()[1], flush=True)\nsys.stdin.read()",
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the listener's port");
        Listener { child, port }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `container` of the listener's owner, as `list --json --pid` says it.
fn container_of(listener: &Listener, state_root: &Path) -> Value {
    let pid = listener.child.id().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["list", "--json", "--tcp", "--pid", &pid])
        .env("SOCKSCOPE_STATE_ROOT", state_root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sockets: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let socket = sockets
        .iter()
        .find(|s| s["state"] == "LISTEN" && s["local_port"] == listener.port)
        .expect("the listener is listed");
    assert_eq!(common::pids(socket), [u64::from(listener.child.id())]);
    socket["processes"][0]["container"].clone()
}

/// 64 hex digits no other run shares.
fn id(seed: u64) -> String {
    let n = (u64::from(std::process::id()) << 16) ^ seed;
    format!("{n:016x}").repeat(4)
}

#[test]
fn docker_and_kubernetes_cgroups_name_the_container_and_pod() {
    let Some(root) = v2_root() else {
        return cannot_run("no cgroup v2 hierarchy mounted");
    };
    let Some(cgroups) = Cgroups::make(&root, "c") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let (docker_id, kube_id) = (id(1), id(2));
    let pod_uid = format!("{:08x}-1111-4222-8333-444455556666", std::process::id());

    let web = Listener::start();
    cgroups.enter(
        &format!("system.slice/docker-{docker_id}.scope"),
        web.child.id(),
    );
    let config = state
        .path()
        .join("var/lib/docker/containers")
        .join(&docker_id);
    fs::create_dir_all(&config).unwrap();
    fs::write(
        config.join("config.v2.json"),
        format!(r#"{{"ID":"{docker_id}","Name":"/sockscope-web","State":{{}}}}"#),
    )
    .unwrap();

    let cart = Listener::start();
    let pod_slice = pod_uid.replace('-', "_");
    cgroups.enter(
        &format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_slice}.slice/\
             cri-containerd-{kube_id}.scope"
        ),
        cart.child.id(),
    );
    fs::create_dir_all(
        state
            .path()
            .join(format!("var/log/pods/shop_cart-5f7_{pod_uid}/cart")),
    )
    .unwrap();

    let c = container_of(&web, state.path());
    assert_eq!(c["runtime"], "docker");
    assert_eq!(c["id"], docker_id.as_str());
    assert_eq!(c["name"], "sockscope-web");
    assert!(c["pod"].is_null());

    let c = container_of(&cart, state.path());
    assert_eq!(c["runtime"], "containerd");
    assert_eq!(c["id"], kube_id.as_str());
    assert!(c["name"].is_null());
    assert_eq!(c["pod"]["uid"], pod_uid.as_str());
    assert_eq!(c["pod"]["namespace"], "shop");
    assert_eq!(c["pod"]["name"], "cart-5f7");

    // Without the state files the ids stand; the names are unknown.
    let empty = tempfile::tempdir().unwrap();
    let c = container_of(&web, empty.path());
    assert_eq!(
        (c["id"].as_str(), c["name"].is_null()),
        (Some(&*docker_id), true)
    );

    // A process in no container says null.
    let plain = Listener::start();
    assert!(container_of(&plain, empty.path()).is_null());
    drop((web, cart, plain));
}

/// A copy with capabilities, run as nobody, refuses a chosen state root.
#[test]
fn a_privileged_copy_refuses_the_state_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("sockscope");
    fs::copy(env!("CARGO_BIN_EXE_sockscope"), &copy).unwrap();
    let granted = Command::new("setcap")
        .arg("cap_sys_ptrace,cap_dac_read_search+ep")
        .arg(&copy)
        .status();
    if !granted.is_ok_and(|s| s.success()) {
        return cannot_run("setcap is unavailable");
    }
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&copy)
        .args(["list", "--tcp"])
        .env("SOCKSCOPE_STATE_ROOT", dir.path())
        .output();
    let Ok(out) = out else {
        return cannot_run("cannot run as nobody");
    };
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SOCKSCOPE_STATE_ROOT is refused"), "{err}");
}
