//! Shared by the interop tests: a tungstenite peer in a std thread, the conversation script our
//! adapters run against it, and a watchdog that bounds each test in time.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{CloseCode as TCloseCode, Data, OpCode};
use tungstenite::protocol::{CloseFrame as TCloseFrame, Message as TMessage};
use wsproto::io::Message;
use wsproto::{CloseCode, DataKind};

/// Message sizes: empty, the 7-bit and 16-bit length boundaries, 64 KiB, 1 MiB, 16 MiB.
pub const SIZES: [usize; 7] = [0, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

/// How long any one interop test may take.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Runs `f` on a thread and fails the test if it does not finish within [`LIMIT`].
pub fn watchdog(name: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .unwrap();
    match rx.recv_timeout(LIMIT) {
        Ok(()) => handle.join().unwrap(),
        // The thread panicked (the sender dropped): re-raise its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name} did not finish within {LIMIT:?}"),
    }
}

/// Valid UTF-8 of exactly `len` bytes, mixing 1- to 4-byte characters.
pub fn text_of(len: usize) -> String {
    let mut s = String::with_capacity(len);
    let chars = ['a', 'é', '€', '😀', 'z', ' '];
    let mut i = 0;
    while s.len() < len {
        let c = chars[i % chars.len()];
        i += 1;
        if s.len() + c.len_utf8() <= len {
            s.push(c);
        } else {
            s.push('.');
        }
    }
    s
}

/// `len` bytes of a pattern that does not repeat at short periods.
pub fn binary_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8).collect()
}

/// One thing our side does, and what it then expects to receive, in order.
pub enum Act {
    Send(Message),
    Fragments(DataKind, Vec<Vec<u8>>),
    Close(CloseCode, &'static str),
}

fn payload(bytes: &[u8]) -> wsproto::bytes::Bytes {
    wsproto::bytes::Bytes::copy_from_slice(bytes)
}

/// The conversation: echoes of every size and kind, fragments both ways, pings both ways, and a
/// close started by us (`we_close`) or by the peer (we send "close-me").
pub fn script(we_close: bool) -> Vec<(Act, Vec<Message>)> {
    let mut steps = Vec::new();
    for &size in &SIZES {
        let text = Message::text(text_of(size));
        steps.push((Act::Send(text.clone()), vec![text]));
        let binary = Message::binary(binary_of(size));
        steps.push((Act::Send(binary.clone()), vec![binary]));
    }
    // Our fragments, one splitting a character, one empty; the peer echoes them whole.
    let text_parts = [&b"caf"[..], b"\xC3", b"\xA9 ", b"", b"ok"];
    steps.push((
        Act::Fragments(
            DataKind::Text,
            text_parts.iter().map(|p| p.to_vec()).collect(),
        ),
        vec![Message::text("café ok")],
    ));
    steps.push((
        Act::Fragments(DataKind::Binary, vec![vec![1, 2], vec![], vec![3]]),
        vec![Message::binary(vec![1, 2, 3])],
    ));
    // The peer's fragments.
    steps.push((
        Act::Send(Message::text("send-fragments")),
        vec![Message::text(PEER_FRAGMENTED)],
    ));
    steps.push((
        Act::Send(Message::text("send-binary-fragments")),
        vec![Message::binary(binary_of(3000))],
    ));
    // Our ping, answered by the peer; the peer's ping, answered by our adapter.
    steps.push((
        Act::Send(Message::Ping(payload(b"p1"))),
        vec![Message::Pong(payload(b"p1"))],
    ));
    steps.push((
        Act::Send(Message::text("ping-me")),
        vec![Message::Ping(payload(b"tp")), Message::text("got-pong:tp")],
    ));
    if we_close {
        steps.push((
            Act::Close(CloseCode::NORMAL, "bye"),
            vec![Message::close(CloseCode::NORMAL, "bye").unwrap()],
        ));
    } else {
        steps.push((
            Act::Send(Message::text("close-me")),
            vec![Message::close(CloseCode::NORMAL, "as asked").unwrap()],
        ));
    }
    steps
}

/// Compares without printing megabytes on failure.
pub fn check(step: usize, got: &Message, want: &Message) {
    let same = match (got, want) {
        // tungstenite echoes the code of our close; the reason may differ.
        (Message::Close(a), Message::Close(b)) => a.code() == b.code(),
        _ => got == want,
    };
    if !same {
        let show = |m: &Message| match m {
            Message::Text(t) if t.len() > 64 => format!("Text({} bytes)", t.len()),
            Message::Binary(b) if b.len() > 64 => format!("Binary({} bytes)", b.len()),
            m => format!("{m:?}"),
        };
        panic!("step {step}: got {}, want {}", show(got), show(want));
    }
}

const PEER_FRAGMENTED: &str = "fragmented by tungstenite: é€😀";

/// The tungstenite side: echoes data, runs the commands the script sends, answers close.
/// Returns the close frame it received, if any.
pub fn tungstenite_peer<S: Read + Write>(mut ws: tungstenite::WebSocket<S>) -> Option<TCloseFrame> {
    let mut close = None;
    loop {
        let msg = match ws.read() {
            Ok(msg) => msg,
            Err(tungstenite::Error::ConnectionClosed) => return close,
            Err(e) => panic!("tungstenite peer: {e}"),
        };
        match msg {
            TMessage::Text(t) => match t.as_str() {
                "send-fragments" => {
                    // Split inside the 2-, 3- and 4-byte characters.
                    let bytes = PEER_FRAGMENTED.as_bytes();
                    let cuts = [0, 10, 28, 30, 33, bytes.len()];
                    send_fragments(&mut ws, Data::Text, bytes, &cuts);
                }
                "send-binary-fragments" => {
                    let bytes = binary_of(3000);
                    send_fragments(&mut ws, Data::Binary, &bytes, &[0, 1, 1000, 2999, 3000]);
                }
                "ping-me" => ws
                    .send(TMessage::Ping(tungstenite::Bytes::from_static(b"tp")))
                    .unwrap(),
                "close-me" => ws
                    .close(Some(TCloseFrame {
                        code: TCloseCode::Normal,
                        reason: "as asked".into(),
                    }))
                    .unwrap(),
                _ => ws.send(TMessage::Text(t)).unwrap(),
            },
            TMessage::Binary(b) => ws.send(TMessage::Binary(b)).unwrap(),
            TMessage::Pong(p) => {
                let text = format!("got-pong:{}", String::from_utf8_lossy(&p));
                ws.send(TMessage::text(text)).unwrap();
            }
            TMessage::Ping(_) => {}
            TMessage::Close(frame) => close = frame,
            TMessage::Frame(_) => unreachable!(),
        }
    }
}

fn send_fragments<S: Read + Write>(
    ws: &mut tungstenite::WebSocket<S>,
    kind: Data,
    bytes: &[u8],
    cuts: &[usize],
) {
    for (i, w) in cuts.windows(2).enumerate() {
        let opcode = OpCode::Data(if i == 0 { kind } else { Data::Continue });
        let last = w[1] == bytes.len();
        let frame = Frame::message(bytes[w[0]..w[1]].to_vec(), opcode, last);
        ws.write(TMessage::Frame(frame)).unwrap();
    }
    ws.flush().unwrap();
}

/// A tungstenite client thread connecting to `addr`.
pub fn tungstenite_client(addr: std::net::SocketAddr) -> JoinHandle<Option<TCloseFrame>> {
    thread::spawn(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let (ws, response) = tungstenite::client(format!("ws://{addr}/interop"), stream).unwrap();
        assert_eq!(response.status(), 101);
        tungstenite_peer(ws)
    })
}

/// A tungstenite server thread accepting one connection on `listener`.
pub fn tungstenite_server(listener: TcpListener) -> JoinHandle<Option<TCloseFrame>> {
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let ws = tungstenite::accept(stream).unwrap();
        tungstenite_peer(ws)
    })
}

/// Checks what the peer saw of the close: our close frame if we closed.
pub fn check_peer_close(close: Option<TCloseFrame>, we_close: bool) {
    if we_close {
        let close = close.expect("peer got no close frame");
        assert_eq!(close.code, TCloseCode::Normal);
        assert_eq!(close.reason.as_str(), "bye");
    }
}
