//! hyper 1.x performs the upgrade (the `hyper_upgrade` example's server); our tokio client talks
//! to wsproto running on hyper's upgraded I/O.
#![cfg(all(feature = "http", feature = "tokio"))]

#[allow(dead_code)]
#[path = "../examples/hyper_upgrade.rs"]
mod example;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::io::Message;
use wsproto::io::tokio::connect;
use wsproto::{CloseCode, Config, DeflateConfig};

#[tokio::test]
async fn hyper_upgrade_round_trip() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(example::serve(listener));

        let config = Config::default().deflate(DeflateConfig::default());
        let (mut ws, response) = connect(format!("ws://{addr}/echo"), config).await.unwrap();
        assert_eq!(response.status(), 101);
        // The server negotiated compression through `wsproto::http`, and runs it.
        assert!(ws.connection().deflate_params().is_some());
        for i in 0..10 {
            ws.send(Message::text(format!("hello {i}"))).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap(),
                Some(Message::text(format!("hello {i}")))
            );
        }
        let big = vec![42u8; 300_000];
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::binary(big)));
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(matches!(
            ws.recv().await.unwrap(),
            Some(Message::Close(f)) if f.code() == CloseCode::NORMAL
        ));
        assert!(matches!(ws.recv().await, Ok(None)));

        // A plain request is still plain HTTP.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        tcp.read_to_end(&mut reply).await.unwrap();
        assert!(reply.starts_with(b"HTTP/1.1 200"));

        // A bad upgrade is refused with the RFC's status: 426 names the version we speak.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
        let mut reply = vec![0u8; 1024];
        let n = tcp.read(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply[..n]).to_ascii_lowercase();
        assert!(reply.starts_with("http/1.1 426"), "{reply}");
        assert!(reply.contains("sec-websocket-version: 13\r\n"), "{reply}");
        server.abort();
    })
    .await
    .expect("test timed out");
}
