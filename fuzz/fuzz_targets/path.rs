//! libFuzzer entry point for [`corral_fuzz::path`]; the checks live in the library so
//! the stable corpus-replay test runs exactly the same code.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| corral_fuzz::path(data));
