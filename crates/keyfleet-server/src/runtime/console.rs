//! An instance's console output: the boot log an EC2 instance's serial console shows, in the
//! shape cloud-init writes it, with the block of host key fingerprints and public keys that
//! users compare with what `ssh` shows at the first connection (docs/aws-facts.md,
//! "Console output").

use ssh_key::{Algorithm, HashAlg, PublicKey};

/// The cloud-init version the log names.
const CLOUD_INIT: &str = "22.2.2";

/// The log of a boot at `launch_ms` of the instance `hostname`, with its host keys.
pub fn boot_log(host_keys: &[PublicKey], hostname: &str, launch_ms: i64) -> String {
    let when = crate::common::time::iso8601(launch_ms);
    let mut log = String::with_capacity(2048);
    let mut line = |text: &str| {
        log.push_str(text);
        log.push('\n');
    };
    line("[    0.000000] Linux version 6.1.0-keyfleet (keyfleet) #1 SMP PREEMPT_DYNAMIC");
    line(
        "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/xvda1 ro console=tty0 console=ttyS0,115200n8",
    );
    line(&format!(
        "[    1.503221] cloud-init[1502]: Cloud-init v. {CLOUD_INIT} running 'init-local' at {when}. Up 1.50 seconds."
    ));
    line(&format!(
        "[    2.118410] cloud-init[1620]: Cloud-init v. {CLOUD_INIT} running 'init' at {when}. Up 2.11 seconds."
    ));
    line(&format!("[    2.431077] cloud-init[1620]: Generating public/private key pairs for {hostname}."));
    line("ec2: ");
    line("ec2: #############################################################");
    line("ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----");
    for key in host_keys {
        line(&format!("ec2: {} {} no comment ({})", bits(key), key.fingerprint(HashAlg::Sha256), kind(key)));
    }
    line("ec2: -----END SSH HOST KEY FINGERPRINTS-----");
    line("ec2: #############################################################");
    line("-----BEGIN SSH HOST KEY KEYS-----");
    for key in host_keys {
        let bare = PublicKey::new(key.key_data().clone(), "");
        line(&bare.to_openssh().unwrap_or_default());
    }
    line("-----END SSH HOST KEY KEYS-----");
    line(&format!(
        "[    3.274910] cloud-init[1711]: Cloud-init v. {CLOUD_INIT} finished at {when}. Datasource DataSourceEc2.  Up 3.27 seconds"
    ));
    line("");
    line(&format!("{hostname} login: "));
    log
}

/// The key's size in bits, as `ssh-keygen -l` prints it.
fn bits(key: &PublicKey) -> usize {
    match key.key_data() {
        ssh_key::public::KeyData::Rsa(rsa) => {
            let modulus = rsa.n().as_positive_bytes().unwrap_or_default();
            let leading = modulus.first().map_or(0, |b| b.leading_zeros() as usize);
            (modulus.len() * 8).saturating_sub(leading)
        }
        ssh_key::public::KeyData::Ecdsa(ecdsa) => match ecdsa.curve() {
            ssh_key::EcdsaCurve::NistP256 => 256,
            ssh_key::EcdsaCurve::NistP384 => 384,
            ssh_key::EcdsaCurve::NistP521 => 521,
        },
        _ => 256,
    }
}

/// `ssh-keygen -l`'s name of the key type.
fn kind(key: &PublicKey) -> &'static str {
    match key.algorithm() {
        Algorithm::Rsa { .. } => "RSA",
        Algorithm::Ecdsa { .. } => "ECDSA",
        Algorithm::Ed25519 => "ED25519",
        _ => "UNKNOWN",
    }
}
