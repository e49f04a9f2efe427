//! Runs every fuzz target's body over its checked-in seed corpus (`tests/fuzz_seeds/<target>/`), so
//! the targets compile and run on stable in `cargo test`. Also replays any crash reproducers
//! kept in `tests/fuzz_regressions/<target>/`.
#![cfg(feature = "fuzzing")]

use std::fs;
use std::path::Path;

fn run_corpus(target: &str, body: fn(&[u8])) {
    let mut ran = 0;
    for dir in ["tests/fuzz_seeds", "tests/fuzz_regressions"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        for entry in entries {
            let file = entry.expect("readable corpus entry").path();
            let data = fs::read(&file).expect("readable corpus file");
            body(&data);
            // Every prefix too: truncation is the commonest hostile input.
            for cut in (0..data.len()).step_by(7) {
                body(&data[..cut]);
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no seeds for {target}");
}

macro_rules! corpus_tests {
    ($($target:ident),* $(,)?) => {$(
        #[test]
        fn $target() {
            run_corpus(stringify!($target), wsproto::fuzzing::$target);
        }
    )*};
}

corpus_tests!(
    frame_header,
    mask,
    utf8,
    server_stream,
    client_stream,
    handshake_request,
    handshake_response,
    round_trip,
    connection,
);

#[cfg(feature = "deflate")]
#[test]
fn inflate() {
    run_corpus("inflate", wsproto::fuzzing::inflate);
}
