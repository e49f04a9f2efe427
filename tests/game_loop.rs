//! Runs the `game_loop` example's loop headless for a bounded number of ticks: one thread, a
//! server and three clients over non-blocking loopback sockets, only the core API.

#[allow(dead_code)]
#[path = "../examples/game_loop.rs"]
mod game_loop;

use game_loop::{Options, run};

#[test]
fn every_client_sees_every_state_update_in_order() {
    let ticks = 90;
    let summary = run(&Options {
        addr: "127.0.0.1:0".into(),
        clients: 3,
        ticks: Some(ticks),
    })
    .unwrap();
    assert_eq!(summary.ticks, ticks);
    assert_eq!(summary.failures, 0);
    assert_eq!(summary.clients.len(), 3);
    for (i, client) in summary.clients.iter().enumerate() {
        assert_eq!(client.updates, ticks, "client {i}: {client:?}");
        assert_eq!(
            (client.first, client.last),
            (1, ticks),
            "client {i}: {client:?}"
        );
        assert!(client.in_order, "client {i}: {client:?}");
        assert!(client.clean_close, "client {i}: {client:?}");
    }
    // Every player's inputs reached the server and moved it (all but the last few, which
    // may still be in flight when the server closes).
    assert_eq!(summary.inputs.len(), 3);
    for (i, &n) in summary.inputs.iter().enumerate() {
        assert!(
            n + 5 >= ticks && n <= ticks,
            "player {i} applied {n} inputs"
        );
    }
    assert!(summary.positions.iter().any(|&p| p != (0, 0)));
}
