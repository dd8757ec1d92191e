//! Feeds arbitrary bytes to ImportKeyPair's parser: it must return Ok or Err, never panic,
//! and whatever it accepts must encode and fingerprint.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = keyfleet_keys::import::parse_public_key_material(data) {
        let line = key.to_openssh_line("fuzz").expect("accepted keys encode");
        keyfleet_keys::fingerprint::of_imported(&key).expect("accepted keys fingerprint");
        let again = keyfleet_keys::import::parse_public_key_material(line.as_bytes()).expect("re-parse");
        assert_eq!(again, key);
    }
});
