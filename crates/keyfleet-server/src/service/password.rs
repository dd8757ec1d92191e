//! Console passwords: IAM's default password policy, and Argon2id hashes in PHC strings.
//!
//! Hashing is slow by design, so it runs on the blocking pool, never on the async threads.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use zeroize::Zeroizing;

use super::{Error, Result};

/// IAM's default password policy, which applies while an account has none of its own (see
/// docs/aws-facts.md, "Console passwords"): at least 8 characters, at most 128, and three
/// of the four kinds of character.
fn meets_policy(password: &str) -> bool {
    let length = password.chars().count();
    let kinds = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    // The API's own pattern: tab, line feed, carriage return and U+0020..=U+00FF.
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}');
    (8..=128).contains(&length) && kinds.iter().filter(|k| **k).count() >= 3 && password.chars().all(allowed)
}

/// Hashes at once at most: each takes Argon2's 19 MiB and a core for its duration, so a
/// flood of sign-ins queues here instead of exhausting memory.
static HASHING: Semaphore = Semaphore::const_new(2);

/// Checks `password` against the policy and hashes it with a fresh salt.
pub async fn hash(password: Zeroizing<String>) -> Result<String> {
    if !meets_policy(&password) {
        return Err(Error::PasswordPolicyViolation);
    }
    let _turn = HASHING.acquire().await.map_err(|e| Error::PasswordHash(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_now(password.as_bytes()))
        .await
        .map_err(|e| Error::PasswordHash(e.to_string()))?
}

fn hash_now(password: &[u8]) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::PasswordHash(e.to_string()))?;
    let hashed =
        Argon2::default().hash_password_with_salt(password, &salt).map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(hashed.to_string())
}

/// True if `password` matches `hash`. Without a hash, a stand-in is checked and false
/// returned, so that the answer takes as long either way.
pub async fn verify(password: Zeroizing<String>, hash: Option<String>) -> Result<bool> {
    let _turn = HASHING.acquire().await.map_err(|e| Error::PasswordHash(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => stand_in()?.clone(),
        };
        Ok(Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok() && known)
    })
    .await
    .map_err(|e| Error::PasswordHash(e.to_string()))?
}

/// A hash of a random password, made once.
fn stand_in() -> Result<&'static String> {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    if let Some(hash) = STAND_IN.get() {
        return Ok(hash);
    }
    let mut random = Zeroizing::new([0u8; 32]);
    getrandom::fill(random.as_mut()).map_err(|e| Error::PasswordHash(e.to_string()))?;
    let hash = hash_now(random.as_ref())?;
    Ok(STAND_IN.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_wants_eight_characters_of_three_kinds() {
        assert!(meets_policy("Passw0rd"));
        assert!(meets_policy("pass word 1"));
        assert!(!meets_policy("Pass0rd"), "seven characters");
        assert!(!meets_policy("password1"), "two kinds");
        assert!(!meets_policy(&"Aa1".repeat(43)), "129 characters");
        assert!(!meets_policy("Passw0rd\u{100}"), "outside the API's pattern");
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = super::hash(Zeroizing::new("Correct-h0rse".into())).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify(Zeroizing::new("Correct-h0rse".into()), Some(hash.clone())).await.unwrap());
        assert!(!verify(Zeroizing::new("Correct-h0rsf".into()), Some(hash)).await.unwrap());
        assert!(!verify(Zeroizing::new("Correct-h0rse".into()), None).await.unwrap());
    }
}
