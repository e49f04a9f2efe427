//! Two chat nodes over a real Redis (`redis-server`, the Debian package, on a loopback port):
//! rooms, names online, direct messages and history cross nodes, and a node that dies takes its
//! users off the other node's lists within `PRESENCE_TTL + SYNC` (17 s).
//!
//! Ignored by plain `cargo test` because it needs `redis-server`; `.ci/run` installs it and runs
//! `cargo test -p chat --test cluster -- --ignored`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, Server, WAIT, http_get, names, scratch};
use serde_json::{Value, json};

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(dir: &std::path::Path) -> (Redis, String) {
    let port = free_port();
    // Waited for in `Drop`.
    #[allow(clippy::zombie_processes)]
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server on PATH (apt-get install redis-server)");
    let redis = Redis(child);
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (redis, format!("redis://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: .ci/run installs it and runs this with --ignored"]
async fn two_nodes_share_rooms_names_history_and_a_dead_node_leaves() {
    let dir = scratch("cluster");
    let (_redis, url) = start_redis(&dir);
    let a = Server::start("127.0.0.1:0", &["--redis", &url], &dir.join("a.log"));
    let mut b = Server::start("127.0.0.1:0", &["--redis", &url], &dir.join("b.log"));

    let mut ana = Client::connect(&a.url("/chat")).await;
    ana.join("lobby", "ana").await;
    let mut bo = Client::connect(&b.url("/chat")).await;
    bo.send("join", json!({"room": "lobby", "name": "bo"}))
        .await;
    bo.until("history", |_| true).await;
    // Node B knows of ana, connected to node A.
    let online = bo.until("online", |d| d["room"] == "lobby").await;
    assert_eq!(names(&online), ["ana", "bo"]);
    ana.until("join", |d| d["name"] == "bo").await;

    // A message said on A reaches B, once, with the id A's client saw.
    ana.send("message", json!({"room": "lobby", "text": "跨节点 🌍"}))
        .await;
    let on_b = bo.until("message", |_| true).await;
    let on_a = ana.until("message", |_| true).await;
    assert_eq!(on_a, on_b);
    assert_eq!(on_b["from"], "ana");
    // A direct message from B to A.
    bo.send("dm", json!({"to": "ana", "text": "hi from b"}))
        .await;
    assert_eq!(ana.until("dm", |_| true).await["from"], "bo");

    // History is shared: B serves what was said on A.
    let (status, body) = http_get(&b.addr, "/history?room=lobby&after=0");
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["messages"][0]["text"], "跨节点 🌍");
    let mut cy = Client::connect(&b.url("/chat")).await;
    let history = cy.join("lobby", "cy").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], on_a["id"]);

    // Node B dies without a word: its users leave A's lists within 17 s.
    let killed = Instant::now();
    b.child.kill().unwrap();
    let _ = b.child.wait();
    let mut gone = Vec::new();
    while gone.len() < 2 {
        let left = ana.until("leave", |_| true).await;
        gone.push(left["name"].as_str().unwrap().to_owned());
    }
    gone.sort();
    assert_eq!(gone, ["bo", "cy"]);
    let took = killed.elapsed();
    // PRESENCE_TTL (15 s) after the last refresh, plus up to one SYNC (2 s), plus slack.
    assert!(took < Duration::from_secs(19), "took {took:?}");
    let mut dee = Client::connect(&a.url("/chat")).await;
    dee.send("join", json!({"room": "lobby", "name": "dee"}))
        .await;
    dee.until("history", |_| true).await;
    assert_eq!(
        names(&dee.until("online", |d| d["room"] == "lobby").await),
        ["ana", "dee"]
    );
    eprintln!("a dead node's users left the other node's list after {took:?}");
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
