#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsproto::fuzzing::server_stream(data));
