//! The chat server over loopback, as its clients see it: the protocol, limits, auth, stored
//! history across a restart, fair fan-out and shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Server, http_get, names, scratch};
use serde_json::{Value, json};
use wsproto::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_names_online_messages_and_direct_messages() {
    let dir = scratch("protocol");
    let db = dir.join("chat.db");
    let server = Server::start(
        "127.0.0.1:0",
        &["--db", db.to_str().unwrap()],
        &dir.join("log"),
    );
    let url = server.url("/chat");

    // Before choosing a name: the welcome and the lobby's online list.
    let mut watcher = Client::connect(&url).await;
    let welcome = watcher.until("welcome", |_| true).await;
    assert!(welcome["name"].is_null());
    assert_eq!(welcome["limits"]["text"], 2000);
    let rooms: Vec<&str> = welcome["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room"].as_str().unwrap())
        .collect();
    assert!(
        rooms.contains(&"lobby") && rooms.contains(&"rust"),
        "{rooms:?}"
    );
    assert!(names(&watcher.until("online", |d| d["room"] == "lobby").await).is_empty());

    let mut ana = Client::connect(&url).await;
    ana.join("lobby", "ana").await;
    // The watcher, in no room yet, sees the lobby's join.
    assert_eq!(
        watcher.until("join", |_| true).await,
        json!({"room": "lobby", "name": "ana"})
    );

    let mut bo = Client::connect(&url).await;
    bo.send("join", json!({"room": "lobby", "name": "bo"}))
        .await;
    bo.until("history", |_| true).await;
    let online = bo.until("online", |d| d["room"] == "lobby").await;
    assert_eq!(names(&online), ["ana", "bo"]);
    // Everyone in the room hears of a join, the joiner too.
    ana.until("join", |d| d["name"] == "bo").await;

    // A message reaches the room, with an id, the sender and a time.
    let text = "你好 👋 <img src=x onerror=alert(1)>";
    ana.send("message", json!({"room": "lobby", "text": text}))
        .await;
    let got = bo.until("message", |_| true).await;
    assert_eq!(got["text"], text);
    assert_eq!(got["from"], "ana");
    assert!(got["id"].as_i64().unwrap() > 0 && got["ts"].as_i64().unwrap() > 0);
    assert_eq!(ana.until("message", |_| true).await["id"], got["id"]);
    // The watcher, still without a name, reads the lobby too.
    assert_eq!(watcher.until("message", |_| true).await["id"], got["id"]);

    // Other rooms do not hear it; a direct message reaches both ends only.
    let mut cy = Client::connect(&url).await;
    cy.join("rust", "cy").await;
    bo.send("dm", json!({"to": "cy", "text": "psst"})).await;
    let dm = cy.until("dm", |_| true).await;
    assert_eq!(
        (dm["from"].as_str(), dm["to"].as_str(), dm["text"].as_str()),
        (Some("bo"), Some("cy"), Some("psst"))
    );
    assert_eq!(bo.until("dm", |_| true).await["text"], "psst");
    cy.send("message", json!({"room": "rust", "text": "in rust"}))
        .await;
    cy.until("message", |d| d["text"] == "in rust").await;
    ana.send("message", json!({"room": "lobby", "text": "marker"}))
        .await;
    // ana's next message is her own marker: nothing from the rust room or the DM came between.
    let next = ana.until("message", |_| true).await;
    assert_eq!(next["text"], "marker");

    // Leaving announces it; the last message is in the history a newcomer gets.
    bo.send("leave", json!({"room": "lobby"})).await;
    assert_eq!(ana.until("leave", |_| true).await["name"], "bo");
    let mut dee = Client::connect(&url).await;
    let history = dee.join("lobby", "dee").await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, [text, "marker"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_and_limits_get_an_error_and_the_connection_stays() {
    let dir = scratch("limits");
    let server = Server::start(
        "127.0.0.1:0",
        &["--db", dir.join("c.db").to_str().unwrap()],
        &dir.join("log"),
    );
    let mut c = Client::connect(&server.url("/chat")).await;
    c.until("welcome", |_| true).await;
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "could not read"),
        (r#"{"type":"shout","data":1}"#.into(), "unknown variant"),
        (
            json!({"type": "message", "data": {"room": "lobby", "text": "x"}}).to_string(),
            "join the room lobby",
        ),
        (
            json!({"type": "join", "data": {"room": "lobby"}}).to_string(),
            "choose a name",
        ),
        (
            json!({"type": "join", "data": {"room": "lobby", "name": "x".repeat(25)}}).to_string(),
            "1 to 24 characters",
        ),
        (
            json!({"type": "join", "data": {"room": "Lobby!", "name": "x"}}).to_string(),
            "a-z, 0-9",
        ),
        (
            json!({"type": "dm", "data": {"to": "nobody", "text": "x"}}).to_string(),
            "choose a name",
        ),
    ];
    for (input, reason) in &cases {
        c.send_raw(input).await;
        let error = c.until("error", |_| true).await;
        assert!(error.as_str().unwrap().contains(reason), "{input}: {error}");
    }
    c.join("lobby", "ana").await;
    c.send(
        "message",
        json!({"room": "lobby", "text": "字".repeat(2001)}),
    )
    .await;
    let error = c.until("error", |_| true).await;
    assert!(
        error.as_str().unwrap().contains("at most 2000 characters"),
        "{error}"
    );
    c.send("dm", json!({"to": "nobody", "text": "x"})).await;
    assert!(
        c.until("error", |_| true)
            .await
            .as_str()
            .unwrap()
            .contains("nobody is not online")
    );
    // Still connected and in the room.
    c.send("message", json!({"room": "lobby", "text": "still here"}))
        .await;
    c.until("message", |d| d["text"] == "still here").await;
    // Over the WebSocket limit (64 KiB) is a protocol failure: 1009.
    c.send_raw(&"x".repeat(70 << 10)).await;
    let closed = c.closed().await;
    assert_eq!(closed.code, Some(CloseCode::MESSAGE_TOO_BIG), "{closed:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_in_the_url_or_the_first_message() {
    let dir = scratch("tokens");
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "# token name\ns3cret-ana ana\ns3cret-bo bo\n").unwrap();
    let server = Server::start(
        "127.0.0.1:0",
        &[
            "--db",
            dir.join("c.db").to_str().unwrap(),
            "--tokens",
            tokens.to_str().unwrap(),
        ],
        &dir.join("log"),
    );
    // A bad token in the URL: 401 at the handshake.
    let refused =
        wsproto::io::tokio::connect(server.url("/chat?token=wrong"), wsproto::Config::default())
            .await;
    let status = refused.err().and_then(|e| e.response().map(|r| r.status()));
    assert_eq!(status, Some(401));
    assert_eq!(http_get(&server.addr, "/history?room=lobby").0, 401);
    assert_eq!(
        http_get(&server.addr, "/history?room=lobby&token=s3cret-ana").0,
        200
    );

    // A good one: the token's name, whatever the join says.
    let mut ana = Client::connect(&server.url("/chat?token=s3cret-ana")).await;
    assert_eq!(ana.until("welcome", |_| true).await["name"], "ana");
    ana.send("join", json!({"room": "lobby", "name": "mallory"}))
        .await;
    ana.until("history", |_| true).await;
    assert_eq!(
        names(&ana.until("online", |d| d["room"] == "lobby").await),
        ["ana"]
    );

    // In the first message.
    let mut bo = Client::connect(&server.url("/chat")).await;
    bo.send("token", json!("s3cret-bo")).await;
    assert_eq!(bo.until("welcome", |_| true).await["name"], "bo");
    let mut eve = Client::connect(&server.url("/chat")).await;
    eve.send("token", json!("guess")).await;
    let closed = eve.closed().await;
    assert_eq!(closed.code, Some(CloseCode::POLICY_VIOLATION));
    assert_eq!(closed.reason, "invalid token");
    let mut lazy = Client::connect(&server.url("/chat")).await;
    lazy.send("join", json!({"room": "lobby", "name": "x"}))
        .await;
    let closed = lazy.closed().await;
    assert_eq!(closed.code, Some(CloseCode::POLICY_VIOLATION));
    assert!(closed.reason.contains("send a token first"), "{closed:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_with_1001_and_the_history_survives_the_restart() {
    let dir = scratch("restart");
    let db = dir.join("chat.db");
    let args = ["--db", db.to_str().unwrap()];
    let mut server = Server::start("127.0.0.1:0", &args, &dir.join("log1"));
    let mut ana = Client::connect(&server.url("/chat")).await;
    ana.join("lobby", "ana").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ana.send(
            "message",
            json!({"room": "lobby", "text": format!("消息 {i} 🎉")}),
        )
        .await;
        ids.push(ana.until("message", |_| true).await["id"].as_i64().unwrap());
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}: {}", server.log_text());
    let closed = ana.closed().await;
    assert_eq!(closed.code, Some(CloseCode::GOING_AWAY), "{closed:?}");
    assert_eq!(closed.reason, "server shutting down");

    // The same file after a restart: everything is there, once, and ids keep growing.
    let server = Server::start(&server.addr.clone(), &args, &dir.join("log2"));
    let (status, body) = http_get(
        &server.addr,
        &format!("/history?room=lobby&after={}", ids[9]),
    );
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&body).unwrap();
    let got: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[10..]);
    assert_eq!(page["messages"][0]["text"], "消息 10 🎉");
    let mut ana = Client::connect(&server.url("/chat")).await;
    let history = ana.join("lobby", "ana").await;
    assert_eq!(history.len(), 30);
    ana.send("message", json!({"room": "lobby", "text": "after"}))
        .await;
    let after = ana.until("message", |_| true).await["id"].as_i64().unwrap();
    assert!(after > *ids.last().unwrap());
    assert_eq!(http_get(&server.addr, "/history?room=No!").0, 400);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_sender_is_slowed_and_readers_are_never_dropped() {
    let dir = scratch("flood");
    let server = Server::start(
        "127.0.0.1:0",
        &["--db", dir.join("c.db").to_str().unwrap()],
        &dir.join("log"),
    );
    let url = server.url("/chat");
    let mut readers = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&url).await;
        c.join("lobby", &format!("reader{i}")).await;
        readers.push(c);
    }
    let mut flood = Client::connect(&url).await;
    flood.join("lobby", "flood").await;
    // 80 messages at once: the first 20 (the burst) go at once, the rest at 10 a second.
    const N: usize = 80;
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for i in 0..N {
            flood
                .send(
                    "message",
                    json!({"room": "lobby", "text": format!("flood {i} 洪水")}),
                )
                .await;
        }
        flood
    });
    let mut handles = Vec::new();
    for mut reader in readers {
        handles.push(tokio::spawn(async move {
            let mut got = 0;
            while got < N {
                let msg = reader.next().await.expect("a reader is never dropped");
                if msg["type"] == "message" {
                    assert_eq!(msg["data"]["text"], format!("flood {got} 洪水"));
                    got += 1;
                }
            }
            got
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), N);
    }
    let took = started.elapsed();
    // (80 - 20) / 10 per second = 6 s at least, if the rate holds.
    assert!(
        took >= Duration::from_secs(5),
        "the flood was not slowed: {took:?}"
    );
    drop(sender.await.unwrap());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
