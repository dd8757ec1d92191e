//! Resource ids in AWS's shape: a prefix and 17 lowercase hex characters
//! (`key-02d9ae84d3868b0cd`, docs/aws-facts.md, "Key pair names, ids and quotas"), from the OS RNG.

/// Makes a new id with the given prefix (`"key"`, `"i"`, `"vol"`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 9];
    fill_random(&mut bytes);
    let mut id = String::with_capacity(prefix.len() + 18);
    id.push_str(prefix);
    id.push('-');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id.truncate(prefix.len() + 18);
    id
}

/// A request id in UUID v4 form, as AWS's `requestId`.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// True if `id` is `prefix-` followed by 17 (or, for older resources, 8) lowercase hex digits.
pub fn is_well_formed(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// An access key id: `AKIA` and 16 base32 characters.
pub fn access_key_id() -> String {
    format!("AKIA{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

/// A temporary (STS) access key id: `ASIA` and 16 base32 characters.
pub fn session_access_key_id() -> String {
    format!("ASIA{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

/// An STS session token: 256 base64 characters, too many to guess.
pub fn session_token() -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 256))
}

/// A unique IAM id such as a user id: `prefix` and 17 base32 characters.
pub fn iam_unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17))
}

/// A secret access key: 40 base64 characters.
pub fn secret_access_key() -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40))
}

/// A 12-digit account id that does not start with 0.
pub fn account_id() -> String {
    format!("{}{}", random_chars(b"123456789", 1), random_chars(b"0123456789", 11))
}

fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; n]);
    fill_random(&mut bytes);
    let pick = |b: &u8| usize::from(*b).checked_rem(alphabet.len()).and_then(|i| alphabet.get(i)).copied();
    bytes.iter().filter_map(pick).map(char::from).collect()
}

fn fill_random(buf: &mut [u8]) {
    // The OS RNG does not fail on supported platforms; a zeroed id would still be unique
    // enough to surface as a duplicate-key error rather than corrupt anything.
    let _ = getrandom::fill(buf);
}
