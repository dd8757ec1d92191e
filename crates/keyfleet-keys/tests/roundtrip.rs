//! Property tests: every encoding we write parses back to the same key (parse ∘ encode = id).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests fail loudly by design

use keyfleet_keys::format::rfc4716;
use keyfleet_keys::import::parse_public_key_material;
use keyfleet_keys::{KeyFormat, PrivateKey};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ed25519_encodings_round_trip(seed in any::<[u8; 32]>(), name in "[a-zA-Z0-9._-]{1,40}") {
        let key = PrivateKey::from_ed25519_seed(&seed);
        let public = key.public_key().unwrap();
        let line = public.to_openssh_line(&name).unwrap();
        prop_assert_eq!(&parse_public_key_material(line.as_bytes()).unwrap(), &public);
        let block = rfc4716::encode(&public.wire_blob().unwrap(), Some(&name));
        prop_assert_eq!(&parse_public_key_material(block.as_bytes()).unwrap(), &public);
        let pem = key.to_material(KeyFormat::Pem, &name).unwrap();
        prop_assert_eq!(PrivateKey::from_pem(&pem).unwrap().public_key().unwrap(), public);
    }

    #[test]
    fn import_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = parse_public_key_material(&bytes);
    }

    #[test]
    fn openssh_like_text_never_panics(alg in "(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp256|ssh-dss)", body in "[A-Za-z0-9+/=\\\\ ]{0,600}") {
        let _ = parse_public_key_material(format!("{alg} {body}").as_bytes());
    }
}

#[test]
fn rsa_encodings_round_trip() {
    for _ in 0..3 {
        let key = keyfleet_keys::generate::generate(keyfleet_keys::KeyType::Rsa).unwrap();
        let public = key.public_key().unwrap();
        let line = public.to_openssh_line("k").unwrap();
        assert_eq!(parse_public_key_material(line.as_bytes()).unwrap(), public);
        let block = rfc4716::encode(&public.wire_blob().unwrap(), None);
        assert_eq!(parse_public_key_material(block.as_bytes()).unwrap(), public);
        let pem = key.to_material(KeyFormat::Pem, "k").unwrap();
        assert_eq!(PrivateKey::from_pem(&pem).unwrap().public_key().unwrap(), public);
    }
}
