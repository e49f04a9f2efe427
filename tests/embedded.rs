//! Runs the `embedded` example's conversation: fixed 512-byte buffers, a u32 tick counter as
//! the clock, a fixed array as the "hardware RNG", and a 256-byte in-memory pipe.

#[allow(dead_code)]
#[path = "../examples/embedded.rs"]
mod embedded;

use wsproto::State;

#[test]
fn whole_conversation_over_an_in_memory_pipe() {
    let t = embedded::conversation().unwrap();
    assert_eq!(
        t.client,
        [
            "connected 101",
            "message ack 9 bytes",
            "message ack 1500 bytes",
            "pong \"still there?\"",
            // The server's keepalive, after one idle second of ticks; answered by the core.
            "ping [0, 0, 0, 1]",
            "close 1000 ",
        ]
    );
    assert_eq!(
        t.server,
        [
            "request /telemetry",
            "message Text 9 bytes",
            "message Binary 1500 bytes",
            "ping \"still there?\"",
            "pong [0, 0, 0, 1]",
            "close 1000 going to sleep",
        ]
    );
    assert_eq!(t.states, (State::Closed, State::Closed));
    // Driven only by the tick counter: the keepalive waited its second, no timeout fired.
    assert!((1000..2000).contains(&t.elapsed_ms), "{}", t.elapsed_ms);
}

#[test]
fn pipe_is_a_bounded_fifo() {
    let mut pipe = embedded::Pipe::<4>::new();
    assert_eq!(pipe.write(b"abcdef"), 4);
    let mut out = [0u8; 3];
    assert_eq!(pipe.read(&mut out), Some(3));
    assert_eq!(&out, b"abc");
    assert_eq!(pipe.write(b"xyz"), 3);
    let mut out = [0u8; 8];
    assert_eq!(pipe.read(&mut out), Some(4));
    assert_eq!(&out[..4], b"dxyz");
}

#[test]
fn seeds_come_from_the_supplied_source() {
    let mut rng = embedded::HardwareRng::new();
    let (a, b) = (rng.seed(), rng.seed());
    assert_ne!(a, b);
    assert_eq!(embedded::HardwareRng::new().seed(), a);
}
