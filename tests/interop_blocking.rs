//! `wsproto::io::blocking` against tungstenite on loopback TCP, in both roles: text and binary
//! echoes of 0 B to 16 MiB, fragments both ways, pings both ways, and the close handshake
//! (we close as server, the peer closes when we are the client).

mod interop_peer;

use std::net::{TcpListener, TcpStream};

use interop_peer::{
    Act, check, check_peer_close, script, tungstenite_client, tungstenite_server, watchdog,
};
use wsproto::handshake::UrlError;
use wsproto::io::blocking::{Answer, Reject, WebSocket, connect};
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, Config};

/// Runs the script on our side, then expects the connection to end cleanly.
fn converse<S: wsproto::io::blocking::Transport>(ws: &mut WebSocket<S>, we_close: bool) {
    for (i, (act, expect)) in script(we_close).into_iter().enumerate() {
        match act {
            Act::Send(msg) => ws.send(msg).unwrap(),
            Act::Fragments(kind, parts) => {
                let n = parts.len();
                for (j, part) in parts.iter().enumerate() {
                    ws.send_fragment(kind, part, j + 1 == n).unwrap();
                }
            }
            Act::Close(code, reason) => ws.close(code, reason).unwrap(),
        }
        for want in &expect {
            let got = ws.recv().unwrap();
            let got = got.unwrap_or_else(|| panic!("step {i}: the connection ended early"));
            check(i, &got, want);
        }
    }
    match ws.recv() {
        Ok(None) => {}
        other => panic!("expected the clean end, got {other:?}"),
    }
    assert!(!ws.is_open());
}

#[test]
fn blocking_server_vs_tungstenite_client() {
    watchdog("blocking server", || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = tungstenite_client(listener.local_addr().unwrap());
        let (stream, _) = listener.accept().unwrap();
        let mut ws = WebSocket::accept_with(stream, Config::default(), |req| {
            assert_eq!(req.path(), "/interop");
            Answer::accept()
        })
        .unwrap();
        converse(&mut ws, true);
        check_peer_close(peer.join().unwrap(), true);
    });
}

#[test]
fn blocking_client_vs_tungstenite_server() {
    watchdog("blocking client", || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tungstenite_server(listener);
        let (mut ws, response) =
            connect(format!("ws://{addr}/interop"), Config::default()).unwrap();
        assert_eq!(response.status(), 101);
        converse(&mut ws, false);
        check_peer_close(peer.join().unwrap(), false);
    });
}

#[test]
fn blocking_client_over_a_stream_it_was_given() {
    watchdog("blocking client over stream", || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tungstenite_server(listener);
        let stream = TcpStream::connect(addr).unwrap();
        let request = ClientRequest::new(addr.to_string(), "/interop");
        let (mut ws, _) = WebSocket::client(stream, request, Config::default()).unwrap();
        ws.send(Message::text("hi")).unwrap();
        assert_eq!(ws.recv().unwrap(), Some(Message::text("hi")));
        ws.close(wsproto::CloseCode::NORMAL, "bye").unwrap();
        assert!(matches!(ws.recv().unwrap(), Some(Message::Close(_))));
        assert!(matches!(ws.recv(), Ok(None)));
        check_peer_close(peer.join().unwrap(), true);
    });
}

#[test]
fn blocking_rejection_reaches_tungstenite_as_http_status() {
    watchdog("blocking reject", || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let stream = TcpStream::connect(addr).unwrap();
            match tungstenite::client(format!("ws://{addr}/"), stream) {
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                    resp.status().as_u16()
                }
                other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
            }
        });
        let (stream, _) = listener.accept().unwrap();
        let err = WebSocket::accept_with(stream, Config::default(), |_| {
            Reject::forbidden().body("no")
        })
        .unwrap_err();
        assert!(matches!(err, WsError::Rejected { status: 403 }), "{err}");
        assert_eq!(client.join().unwrap(), 403);
    });
}

#[test]
fn blocking_connect_rejects_bad_urls_and_wss() {
    let err = connect("http://example.com/", Config::default()).unwrap_err();
    assert!(matches!(err, WsError::Url(UrlError::Scheme)), "{err}");
    // Even with a TLS feature on: the blocking adapter does no TLS.
    let err = connect("wss://example.com/", Config::default()).unwrap_err();
    assert!(matches!(err, WsError::TlsUnavailable(_)), "{err}");
    assert!(
        err.to_string().contains("open the TLS stream yourself"),
        "{err}"
    );
}
