//! The server's answer through the adapters (tokio): inspect the request, await a decision,
//! accept with an offered subprotocol or reject with an HTTP response; and the typed errors a
//! client and a server see for each outcome. RFC 6455 section 4.2.2: the server either accepts
//! with a 101 naming at most one of the offered subprotocols, or answers with an HTTP error.
#![cfg(feature = "tokio")]

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use wsproto::handshake::Accept;
use wsproto::io::tokio::{WebSocketStream, connect};
use wsproto::io::{Message, Reject, WsError};
use wsproto::{ClientRequest, CloseCode, Config, ProtocolError};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// A token store that answers after a delay, as a database would.
async fn lookup(tokens: &HashSet<String>, token: &str) -> bool {
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokens.contains(token)
}

/// Serves one connection: a token in the query, looked up asynchronously; `chat` spoken if
/// offered; an echo until the client closes. Returns the outcome of the handshake.
async fn token_server(listener: TcpListener, tokens: Arc<HashSet<String>>) -> Result<(), WsError> {
    let (tcp, _) = listener.accept().await.unwrap();
    let incoming = WebSocketStream::incoming(tcp, Config::default()).await?;
    let request = incoming.request();
    assert_eq!(request.path(), "/room");
    let token = request.query_param("token");
    let allowed = match token {
        Some(token) => lookup(&tokens, &token).await,
        None => false,
    };
    if !allowed {
        return incoming
            .reject(Reject::unauthorized("Bearer").body("unknown token"))
            .await;
    }
    let accept = if incoming.request().subprotocols().any(|p| p == "chat") {
        Accept::new().subprotocol("chat")
    } else {
        Accept::new()
    };
    let mut ws = incoming.accept(accept).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn server_awaits_a_lookup_then_accepts_with_an_offered_subprotocol() {
    bounded(async {
        let (listener, url) = bind().await;
        let tokens = Arc::new(HashSet::from(["s3/cret".to_owned()]));
        let server = tokio::spawn(token_server(listener, tokens));
        // Percent-encoded as a browser's URLSearchParams would send it.
        let request = ClientRequest::from_url(&format!("{url}/room?v=1&token=s3%2Fcret"))
            .unwrap()
            .subprotocol("v2.chat")
            .subprotocol("chat");
        let (mut ws, response) = connect(request, Config::default()).await.unwrap();
        assert_eq!(response.subprotocol(), Some("chat"));
        assert_eq!(ws.connection().subprotocol(), Some("chat"));
        ws.send("héllo, 世界 👋").await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::text("héllo, 世界 👋"))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(matches!(ws.recv().await.unwrap(), Some(Message::Close(_))));
        assert_eq!(ws.recv().await.unwrap(), None);
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unknown_token_gets_401_with_a_challenge_and_the_body() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(token_server(listener, Arc::new(HashSet::new())));
        let err = connect(format!("{url}/room?token=guess"), Config::default())
            .await
            .unwrap_err();
        match &err {
            WsError::Refused { response, body } => {
                assert_eq!(response.header_str("WWW-Authenticate"), Some("Bearer"));
                assert_eq!(&body[..], b"unknown token");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(err.http_status(), Some(401));
        // `reject` reports success once the response is written.
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unoffered_subprotocol_is_refused_with_500_not_dropped() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            WebSocketStream::accept_with(tcp, Config::default(), |_| {
                Accept::new().subprotocol("mqtt")
            })
            .await
        });
        let request = ClientRequest::from_url(&format!("{url}/"))
            .unwrap()
            .subprotocol("chat");
        let err = connect(request, Config::default()).await.unwrap_err();
        assert_eq!(err.http_status(), Some(500), "{err}");
        assert!(matches!(err, WsError::Refused { .. }));
        match server.await.unwrap() {
            Err(WsError::UnofferedSubprotocol(p)) => assert_eq!(p, "mqtt"),
            other => panic!("expected UnofferedSubprotocol, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn request_headers_and_origin_reach_the_server() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let incoming = WebSocketStream::incoming(tcp, Config::default())
                .await
                .unwrap();
            let seen = (
                incoming
                    .request()
                    .header_str("Authorization")
                    .map(str::to_owned),
                incoming.request().origin().map(str::to_owned),
            );
            incoming.reject(Reject::forbidden()).await.unwrap();
            seen
        });
        let request = ClientRequest::from_url(&format!("{url}/"))
            .unwrap()
            .header("Authorization", "Bearer abc")
            .origin("https://chat.example");
        let err = connect(request, Config::default()).await.unwrap_err();
        assert_eq!(err.http_status(), Some(403));
        let (authorization, origin) = server.await.unwrap();
        assert_eq!(authorization.as_deref(), Some("Bearer abc"));
        assert_eq!(origin.as_deref(), Some("https://chat.example"));
    })
    .await;
}

#[tokio::test]
async fn a_send_after_the_clean_end_is_closed_with_the_peer_frame() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept(tcp, Config::default())
                .await
                .unwrap();
            let close = ws.recv().await.unwrap();
            assert!(matches!(close, Some(Message::Close(f)) if f.code() == CloseCode::GOING_AWAY));
            assert_eq!(ws.recv().await.unwrap(), None, "the clean end");
            assert_eq!(ws.recv().await.unwrap(), None, "and it stays ended");
            ws.send("too late").await.unwrap_err()
        });
        let (mut ws, _) = connect(format!("{url}/"), Config::default()).await.unwrap();
        ws.close(CloseCode::GOING_AWAY, "moving on").await.unwrap();
        while ws.recv().await.unwrap().is_some() {}
        let err = server.await.unwrap();
        match &err {
            WsError::Closed(Some(frame)) => assert_eq!(frame.reason(), "moving on"),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(err.close_code(), Some(CloseCode::GOING_AWAY));
        assert!(!err.is_peer_fault());
    })
    .await;
}

#[tokio::test]
async fn a_message_over_the_limit_is_limit_exceeded_and_the_peer_reads_1009() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = Config::default().max_message_size(1024);
            let mut ws = WebSocketStream::accept(tcp, config).await.unwrap();
            ws.recv().await.unwrap_err()
        });
        let (mut ws, _) = connect(format!("{url}/"), Config::default()).await.unwrap();
        ws.send(vec![0u8; 4096]).await.unwrap();
        match ws.recv().await.unwrap() {
            Some(Message::Close(frame)) => assert_eq!(frame.code(), CloseCode::MESSAGE_TOO_BIG),
            other => panic!("expected the 1009 close, got {other:?}"),
        }
        let err = server.await.unwrap();
        assert!(
            matches!(
                err,
                WsError::LimitExceeded(
                    ProtocolError::MessageTooLarge | ProtocolError::FrameTooLarge
                )
            ),
            "{err}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    })
    .await;
}

#[tokio::test]
async fn a_vanished_peer_is_abnormal_closure() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept(tcp, Config::default())
                .await
                .unwrap();
            ws.recv().await.unwrap_err()
        });
        let (ws, _) = connect(format!("{url}/"), Config::default()).await.unwrap();
        // The TCP connection ends with no close frame.
        drop(ws.into_inner());
        let err = server.await.unwrap();
        assert!(matches!(err, WsError::AbnormalClosure), "{err}");
        assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL));
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::UnexpectedEof);
    })
    .await;
}

#[tokio::test]
async fn a_reset_after_the_close_frames_crossed_is_the_clean_end() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept(tcp, Config::default())
                .await
                .unwrap();
            ws.close(CloseCode::GOING_AWAY, "restarting").await.unwrap();
            // Wait for the client's echo, then reset instead of closing gracefully, as a
            // server that exits at once would.
            assert!(matches!(ws.recv().await.unwrap(), Some(Message::Close(_))));
            let tcp = ws.into_inner();
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        });
        let (mut ws, _) = connect(format!("{url}/"), Config::default()).await.unwrap();
        match ws.recv().await.unwrap() {
            Some(Message::Close(frame)) => assert_eq!(frame.code(), CloseCode::GOING_AWAY),
            other => panic!("expected the close, got {other:?}"),
        }
        server.await.unwrap();
        // The reset arrives where the server's TCP close would: nothing was lost.
        assert_eq!(ws.recv().await.unwrap(), None);
    })
    .await;
}
