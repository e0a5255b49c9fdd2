//! A host running containers, for the grouped processes view and the details pane:
//! a docker container "web" (nginx, master and worker sharing the listener), a
//! Kubernetes pod's container (containerd, pod shop/cart-5f7) in a namespace of its
//! own, and sshd on the host. Each socket says its namespace, as `--all-netns` does.

use std::sync::Arc;

use sockscope::model::{Container, Netns, Owner, Pod, Socket, TcpState};

use super::{owner, tcp, udp};

pub const WEB_ID: &str = "4f1c0a9d3e5b7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";
const CART_ID: &str = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b";

fn netns(inode: u64, name: Option<&str>) -> Option<Arc<Netns>> {
    Some(Arc::new(Netns {
        inode,
        name: name.map(String::from),
    }))
}

fn inside(mut owner: Owner, container: &Arc<Container>) -> Owner {
    Arc::make_mut(&mut owner.process).container = Some(container.clone());
    owner
}

fn placed(socket: Socket, netns: &Option<Arc<Netns>>) -> Socket {
    Socket {
        netns: netns.clone(),
        ..socket
    }
}

pub fn container_sockets() -> Vec<Socket> {
    let web = Arc::new(Container {
        runtime: "docker",
        id: WEB_ID.into(),
        name: Some("web".into()),
        pod: None,
    });
    let cart = Arc::new(Container {
        runtime: "containerd",
        id: CART_ID.into(),
        name: None,
        pod: Some(Pod {
            namespace: Some("shop".into()),
            name: Some("cart-5f7".into()),
            uid: "0d1c9a3e-2b4f-4c6d-8e0f-1a2b3c4d5e6f".into(),
        }),
    });
    let host = netns(4026531840, None);
    let web_ns = netns(4026532301, None);
    let cart_ns = netns(4026532415, Some("cni-7f3a"));
    let master = || inside(owner(2101, 6, "nginx", "root"), &web);
    let worker = |fd| inside(owner(2102, fd, "nginx", "www-data"), &web);
    let app = |fd| inside(owner(3300, fd, "cart", "root"), &cart);
    vec![
        placed(
            tcp(
                "0.0.0.0:22",
                "0.0.0.0:0",
                TcpState::Listen,
                601,
                vec![owner(812, 3, "sshd", "root")],
            ),
            &host,
        ),
        placed(
            tcp(
                "0.0.0.0:80",
                "0.0.0.0:0",
                TcpState::Listen,
                701,
                vec![master(), worker(6)],
            ),
            &web_ns,
        ),
        placed(
            tcp(
                "172.17.0.2:80",
                "172.17.0.1:51000",
                TcpState::Established,
                702,
                vec![worker(11)],
            ),
            &web_ns,
        ),
        placed(
            tcp(
                "172.17.0.2:80",
                "172.17.0.1:51002",
                TcpState::CloseWait,
                703,
                vec![worker(12)],
            ),
            &web_ns,
        ),
        placed(
            tcp(
                "0.0.0.0:8080",
                "0.0.0.0:0",
                TcpState::Listen,
                801,
                vec![app(5)],
            ),
            &cart_ns,
        ),
        placed(udp("0.0.0.0:8125", 802, vec![app(6)]), &cart_ns),
    ]
}
