//! Feeds arbitrary text to the `authorized_keys` parser the SSH servers run at every login:
//! as a whole file, and as the options of a line that holds the presented key. It must find
//! or refuse, never panic.
#![no_main]

use keyfleet_server::runtime::authorized_keys;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGY9TXLsoDmJ5KZrbK8cD5iiBwEtn/tqr/FjmtVYZGgy fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(public) = ssh_key::PublicKey::from_openssh(KEY) else { return };
    let text = String::from_utf8_lossy(data);
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let _ = authorized_keys::find(&text, public.key_data(), client, now);
    let (options, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let with_options = format!("{rest}\n{options} {KEY}\n");
    let _ = authorized_keys::find(&with_options, public.key_data(), client, now);
});
