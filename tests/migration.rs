//! The migration guide's echo server and client (`docs/migrating-from-tokio-tungstenite.md`),
//! before (tokio-tungstenite) and after (this crate), run against each other and against
//! `examples/tokio_echo_server.rs`: a port by the guide talks to what it replaced.
#![cfg(feature = "tokio")]

use std::time::Duration;

use tokio::net::TcpListener;

#[path = "../examples/tokio_echo_server.rs"]
#[allow(dead_code)]
mod tokio_echo_server;

/// The tokio-tungstenite program, as the guide shows it.
mod before {
    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::{Error, Message};

    pub async fn server(listener: TcpListener) -> Result<(), Error> {
        let (tcp, _) = listener.accept().await?;
        let mut ws = tokio_tungstenite::accept_async(tcp).await?;
        while let Some(message) = ws.next().await {
            let message = message?;
            if message.is_text() || message.is_binary() {
                ws.send(message).await?;
            }
        }
        Ok(())
    }

    pub async fn client(url: &str) -> Result<String, Error> {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
        ws.send(Message::text("hello, 世界 🌍")).await?;
        let reply = ws.next().await.expect("a reply")?.into_text()?;
        ws.close(None).await?;
        // Read to the end, so the close handshake completes.
        while let Some(message) = ws.next().await {
            message?;
        }
        Ok(reply.to_string())
    }
}

/// The same program after following the guide.
mod after {
    use tokio::net::TcpListener;
    use wsproto::Config;
    use wsproto::io::tokio::{WebSocketStream, connect};
    use wsproto::io::{Message, WsError};

    pub async fn server(listener: TcpListener) -> Result<(), WsError> {
        let (tcp, _) = listener.accept().await?;
        let mut ws = WebSocketStream::accept(tcp, Config::default()).await?;
        while let Some(message) = ws.recv().await? {
            if message.is_text() || message.is_binary() {
                ws.send(message).await?;
            }
        }
        Ok(())
    }

    pub async fn client(url: &str) -> Result<String, WsError> {
        let (mut ws, _) = connect(url, Config::default()).await?;
        ws.send(Message::text("hello, 世界 🌍")).await?;
        let reply = ws
            .recv()
            .await?
            .and_then(Message::into_text)
            .expect("a text reply");
        ws.close(wsproto::CloseCode::NORMAL, "").await?;
        while ws.recv().await?.is_some() {}
        Ok(reply.to_string())
    }
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

#[tokio::test]
async fn ported_client_and_ported_server() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(after::server(listener));
        assert_eq!(after::client(&url).await.unwrap(), "hello, 世界 🌍");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn ported_client_and_the_original_server() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(before::server(listener));
        assert_eq!(after::client(&url).await.unwrap(), "hello, 世界 🌍");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn original_client_and_the_ported_server() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(after::server(listener));
        assert_eq!(before::client(&url).await.unwrap(), "hello, 世界 🌍");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn both_clients_and_the_examples_echo_server() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                tokio_echo_server::echo(tcp).await.unwrap();
            }
        });
        assert_eq!(after::client(&url).await.unwrap(), "hello, 世界 🌍");
        assert_eq!(before::client(&url).await.unwrap(), "hello, 世界 🌍");
        server.await.unwrap();
    })
    .await;
}
