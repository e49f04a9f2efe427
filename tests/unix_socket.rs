//! The `unix_socket` example's server and client over a Unix domain socket at a temporary
//! path, and its stdin/stdout `Duplex` transport over a socket pair; bounded in time.
#![cfg(unix)]

#[allow(dead_code)]
#[path = "../examples/unix_socket.rs"]
mod unix_socket;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use wsproto::io::Message;
use wsproto::io::blocking::WebSocket;
use wsproto::{ClientRequest, CloseCode, Config};

/// Runs `f` on a thread; fails if it takes longer than 30 s.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(30))
        .expect("test timed out or panicked")
}

fn temp_socket(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wsproto-{name}-{}.sock", std::process::id()))
}

#[test]
fn echo_over_a_unix_socket() {
    let path = temp_socket("echo");
    let out = bounded({
        let path = path.clone();
        move || {
            let _ = std::fs::remove_file(&path);
            let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
            // The example's server, for one connection.
            let server = thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                unix_socket::serve(stream).unwrap()
            });
            let mut out = Vec::new();
            let lines = ["hello", "", "ünïcödé over a socket file"].map(String::from);
            unix_socket::chat(&path, lines, &mut out).unwrap();
            assert_eq!(server.join().unwrap(), 3);
            String::from_utf8(out).unwrap()
        }
    });
    let _ = std::fs::remove_file(&path);
    assert_eq!(out, "hello\n\nünïcödé over a socket file\n");
}

#[test]
fn listen_serves_several_clients() {
    let path = temp_socket("listen");
    bounded({
        let path = path.clone();
        move || {
            let server = thread::spawn({
                let path = path.clone();
                move || unix_socket::listen(&path, Some(2)).unwrap()
            });
            // Wait for the socket file to appear.
            for _ in 0..500 {
                if UnixStream::connect(&path).is_ok() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            // That probe took the first slot; one more client gets the second.
            let mut out = Vec::new();
            unix_socket::chat(&path, ["second".to_owned()], &mut out).unwrap();
            assert_eq!(out, b"second\n");
            server.join().unwrap();
        }
    });
    let _ = std::fs::remove_file(&path);
}

#[test]
fn duplex_transport_carries_a_connection() {
    bounded(|| {
        // Separate read and write halves, as stdin and stdout are.
        let (server_end, client_end) = UnixStream::pair().unwrap();
        let duplex = unix_socket::Duplex {
            reader: server_end.try_clone().unwrap(),
            writer: server_end,
        };
        let server = thread::spawn(move || unix_socket::serve(duplex).unwrap());
        let request = ClientRequest::new("localhost", "/");
        let (mut ws, _) = WebSocket::client(client_end, request, Config::default()).unwrap();
        ws.send(Message::binary(vec![9; 70_000])).unwrap();
        assert_eq!(ws.recv().unwrap(), Some(Message::binary(vec![9; 70_000])));
        ws.close(CloseCode::NORMAL, "done").unwrap();
        assert!(matches!(ws.recv().unwrap(), Some(Message::Close(_))));
        // A Duplex can only flush on shutdown; its socket closes when `serve` returns and
        // drops it, which the client sees as the clean end of the connection.
        match ws.recv() {
            Ok(None) => {}
            other => panic!("expected the clean end, got {other:?}"),
        }
        assert!(!ws.is_open());
        drop(ws);
        assert_eq!(server.join().unwrap(), 1);
    });
}
