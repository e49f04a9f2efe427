#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsproto::fuzzing::handshake_request(data));
