//! Known-answer tests: fixtures in `tests/data/` were made by ssh-keygen, openssl and
//! puttygen (`tests/data/regenerate.sh`); AWS's values come from docs/aws-facts.md, "Fingerprint test vectors".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests fail loudly by design

use keyfleet_keys::fingerprint;
use keyfleet_keys::import::parse_public_key_material;
use keyfleet_keys::{ImportError, KeyFormat, KeyType, PrivateKey, PublicKey};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn private(name: &str) -> PrivateKey {
    PrivateKey::from_pem(&fixture(name)).expect("fixture parses")
}

fn expected_fingerprint(label: &str) -> String {
    fixture("fingerprints.txt")
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(' ').map(str::to_owned))
        .expect("label present")
}

#[test]
fn created_rsa_fingerprint_is_sha1_of_pkcs8() {
    let key = private("aws_rsa.pem");
    assert_eq!(fingerprint::of_created(&key).unwrap(), "42:48:b9:3b:1a:5f:d4:5e:c9:11:b2:0b:f8:c3:9a:6e:32:7b:ac:2b");
    assert_eq!(fingerprint::of_created(&key).unwrap(), expected_fingerprint("created_rsa"));
}

#[test]
fn imported_rsa_fingerprint_is_md5_of_spki_in_every_format() {
    for file in ["aws_rsa.pub", "aws_rsa.rfc4716", "aws_rsa.spki.b64", "aws_rsa.pkcs1.b64"] {
        let key = parse_public_key_material(fixture(file).as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert_eq!(
            fingerprint::of_imported(&key).unwrap(),
            "eb:d3:60:18:72:eb:4f:70:e3:f0:9c:d0:cc:7b:6f:1f",
            "{file}"
        );
    }
}

#[test]
fn ed25519_fingerprint_is_padded_base64_sha256() {
    let key = private("ed25519");
    let expected = "Jdc1TLURu31bVJ0bzvUXmNTzdLmKjNQ9/khO2RDdy2w=";
    assert_eq!(fingerprint::of_created(&key).unwrap(), expected);
    assert_eq!(expected_fingerprint("ed25519"), expected);
    for file in ["ed25519.pub", "ed25519.rfc4716"] {
        let imported = parse_public_key_material(fixture(file).as_bytes()).unwrap();
        assert_eq!(fingerprint::of_imported(&imported).unwrap(), expected, "{file}");
    }
}

#[test]
fn ed25519_fingerprint_matches_real_aws_snapshot() {
    // LocalStack's snapshot of real AWS (vector A, docs/aws-facts.md, "Fingerprint test vectors").
    let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILR+zNQbYY5ORuhYXGMTSnjRLzS9C5dUdWRKdlqi20q2";
    let key = parse_public_key_material(line.as_bytes()).unwrap();
    assert_eq!(fingerprint::of_imported(&key).unwrap(), "4LmcYnyBOqlloHZ5TKAxfa8BgMK2wL6WeOOTvXVdhmw=");
}

#[test]
fn ppk_v2_matches_puttygen_byte_for_byte() {
    for (key, ppk) in [("aws_rsa.pem", "aws_rsa.ppk"), ("ed25519", "ed25519.ppk")] {
        let material = private(key).to_material(KeyFormat::Ppk, "kf-vector").unwrap();
        assert_eq!(material.as_str(), fixture(ppk), "{key}");
    }
}

#[test]
fn rsa_pem_is_pkcs1_wrapped_at_76_without_trailing_newline() {
    let material = private("aws_rsa.pem").to_material(KeyFormat::Pem, "x").unwrap();
    assert!(material.starts_with("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAuPug"));
    assert!(material.ends_with("\n-----END RSA PRIVATE KEY-----"));
    let body: Vec<&str> = material.lines().skip(1).take_while(|l| !l.starts_with("-----")).collect();
    assert!(body[..body.len() - 1].iter().all(|l| l.len() == 76));
    let reparsed = PrivateKey::from_pem(&material).unwrap();
    assert_eq!(reparsed.public_key().unwrap(), private("aws_rsa.pem").public_key().unwrap());
}

#[test]
fn public_line_uses_the_given_comment() {
    let line = private("ed25519").public_key().unwrap().to_openssh_line("my-key").unwrap();
    assert_eq!(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID5NbKt+BPWP8SMUE9NeUomWbpxmjWhFlSUoEBRdyER3 my-key");
}

#[test]
fn ecdsa_dsa_and_garbage_are_refused() {
    assert!(matches!(
        parse_public_key_material(fixture("ecdsa.pub").as_bytes()),
        Err(ImportError::UnsupportedType(_) | ImportError::Malformed(_))
    ));
    let dsa = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSo= dsa";
    assert!(parse_public_key_material(dsa.as_bytes()).is_err());
    for garbage in ["hello", "ssh-rsa", "ssh-rsa !!!!", "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA"] {
        assert!(matches!(parse_public_key_material(garbage.as_bytes()), Err(ImportError::Malformed(_))), "{garbage}");
    }
}

#[test]
fn length_and_ascii_are_checked_before_format() {
    assert_eq!(parse_public_key_material(&[b'a'; 2049]), Err(ImportError::TooLong { max: 2048 }));
    assert_eq!(parse_public_key_material("ssh-rsa é".as_bytes()), Err(ImportError::NotAscii));
    assert_eq!(parse_public_key_material(b""), Err(ImportError::Empty));
    assert_eq!(parse_public_key_material(b" \n"), Err(ImportError::Empty));
}

#[test]
fn lenient_base64_accepts_mototest_stray_backslash() {
    let line = fixture("aws_rsa.pub");
    let (head, tail) = line.split_at(60);
    let with_backslash = format!("{head}\\{tail}");
    let key = parse_public_key_material(with_backslash.as_bytes()).unwrap();
    assert_eq!(fingerprint::of_imported(&key).unwrap(), "eb:d3:60:18:72:eb:4f:70:e3:f0:9c:d0:cc:7b:6f:1f");
}

#[test]
fn rfc4716_header_continuations_and_crlf_are_accepted() {
    let blob_lines: Vec<String> = fixture("aws_rsa.rfc4716")
        .lines()
        .filter(|l| !l.contains(':') && !l.starts_with("----"))
        .map(str::to_owned)
        .collect();
    let text = format!(
        "---- BEGIN SSH2 PUBLIC KEY ----\r\ncOmmENt: \"a long \\\r\ncomment\"\r\nx-private: yes\r\n{}\r\n---- END SSH2 PUBLIC KEY ----\r\n",
        blob_lines.join("\r\n")
    );
    let key = parse_public_key_material(text.as_bytes()).unwrap();
    assert_eq!(key, PublicKey::from_openssh_line(&fixture("aws_rsa.pub")).unwrap());
}

#[test]
fn generated_keys_have_the_requested_type_and_size() {
    let rsa = keyfleet_keys::generate::generate(KeyType::Rsa).unwrap();
    assert_eq!(rsa.public_key().unwrap().rsa_bits(), Some(2048));
    let ed = keyfleet_keys::generate::generate(KeyType::Ed25519).unwrap();
    assert_eq!(ed.key_type(), KeyType::Ed25519);
    let material = ed.to_material(KeyFormat::Pem, "n").unwrap();
    assert!(material.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    assert_eq!(PrivateKey::from_pem(&material).unwrap().public_key().unwrap(), ed.public_key().unwrap());
    assert!(!format!("{ed:?}").contains(&material[40..60]));
}
