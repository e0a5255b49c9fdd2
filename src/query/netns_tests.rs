use std::sync::Arc;

use super::*;
use crate::model::{Container, Netns};
use crate::test_sockets::{self, Build, owner};

const ID: &str = "4f1c0a9d3e5b7c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a";

fn in_container(name: Option<&str>, inode: u64) -> Socket {
    let mut o = owner(42, 3, "app");
    Arc::make_mut(&mut o.process).container = Some(Arc::new(Container {
        runtime: "docker",
        id: ID.into(),
        name: name.map(str::to_string),
        pod: None,
    }));
    let mut s = test_sockets::tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen)
        .inode(1)
        .owned_by(vec![o]);
    s.netns = Some(Arc::new(Netns {
        inode,
        name: Some("blue".into()),
    }));
    s
}

#[test]
fn netns_and_container_words() {
    let s = in_container(Some("web"), 4026532315);
    for (text, hit) in [
        ("netns:blue", true),
        ("netns:4026532315", true),
        ("netns:red", false),
        ("container:web", true),
        ("container:4f1c0a9d3e5b", true),
        ("container:db", false),
        ("netns:red netns:blue", true),
        ("netns:blue container:db", false),
    ] {
        let q = Query::parse(text).unwrap();
        assert_eq!(q.matches(&s), hit, "{text}");
        assert_eq!(Query::parse(&q.to_string()), Ok(q), "{text}");
    }
    let bare = test_sockets::tcp("127.0.0.1:80", "0.0.0.0:0", TcpState::Listen);
    assert!(!Query::parse("container:web").unwrap().matches(&bare));
    assert!(!Query::parse("netns:blue").unwrap().matches(&bare));
}

#[test]
fn the_place_column_appears_with_a_second_namespace() {
    use crate::column::Column;
    let one = vec![in_container(None, 1), in_container(None, 1)];
    assert_eq!(
        Column::with_place(&Column::LIST, &one),
        Column::LIST.to_vec()
    );
    let two = vec![in_container(Some("web"), 1), in_container(None, 2)];
    let cols = Column::with_place(&Column::LIST, &two);
    assert_eq!(cols[cols.len() - 2], Column::Place);
    let row = crate::column::Row::new(&two[0]);
    assert_eq!(Column::Place.text(&row), "web");
    assert_eq!(
        Column::Place.text(&crate::column::Row::new(&two[1])),
        &ID[..12]
    );
    assert_eq!(Column::Netns.text(&row), r#"{"inode":1,"name":"blue"}"#);
}
