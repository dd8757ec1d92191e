//! Console sessions: who signed in, kept in the store so that every replica accepts them.
//!
//! The browser holds a random token; the store holds only its SHA-256, so reading the
//! database does not sign anyone in. A session ends at sign-out or after twelve idle hours.

use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Result, now_ms};
use crate::store::{ConsoleSessionRow, Store};

/// How long a session lasts without use.
pub const IDLE_MS: i64 = 12 * 60 * 60 * 1000;
/// How long a session lasts however much it is used: a stolen cookie does not live forever.
pub const MAX_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// A session's last use is written at most this often, so that pages are not writes.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOwner {
    /// The account.
    pub account: String,
    /// The IAM user, or `None` for the account's root.
    pub user: Option<String>,
    /// The access key signed in with (empty for a password).
    pub access_key_id: String,
    /// For a password, its stamp ([`crate::service::iam::Iam::password_stamp`]): the session
    /// lasts while the user and the password it was signed in with do. Empty for a key.
    pub credential: String,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who it belongs to.
    pub owner: SessionOwner,
    /// The token forms must carry.
    pub csrf: String,
    token_hash: String,
}

/// Console sessions over the store.
pub struct Sessions {
    store: Arc<dyn Store>,
}

impl Sessions {
    /// Sessions kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Sessions { store }
    }

    /// Starts a session; returns the cookie's token, which exists nowhere else.
    pub async fn start(&self, owner: SessionOwner) -> Result<(Zeroizing<String>, Session)> {
        let now = now_ms();
        self.store.delete_idle_console_sessions(now - IDLE_MS).await?;
        let token = random_token()?;
        let session = Session { owner, csrf: random_token()?.to_string(), token_hash: hash(&token) };
        let row = ConsoleSessionRow {
            token_hash: session.token_hash.clone(),
            account: session.owner.account.clone(),
            user_name: session.owner.user.clone(),
            access_key_id: session.owner.access_key_id.clone(),
            csrf: session.csrf.clone(),
            credential: session.owner.credential.clone(),
            created_ms: now,
            last_seen_ms: now,
        };
        self.store.insert_console_session(&row).await?;
        Ok((token, session))
    }

    /// The live session a cookie's token names, if any.
    pub async fn find(&self, token: &str) -> Result<Option<Session>> {
        let now = now_ms();
        let token_hash = hash(token);
        let Some(row) = self.store.console_session(&token_hash, now - IDLE_MS).await? else { return Ok(None) };
        if now - row.created_ms > MAX_AGE_MS {
            self.store.delete_console_session(&token_hash).await?;
            return Ok(None);
        }
        if now - row.last_seen_ms > TOUCH_EVERY_MS {
            self.store.touch_console_session(&token_hash, now).await?;
        }
        let owner = SessionOwner {
            account: row.account,
            user: row.user_name,
            access_key_id: row.access_key_id,
            credential: row.credential,
        };
        Ok(Some(Session { owner, csrf: row.csrf, token_hash }))
    }

    /// Ends a session.
    pub async fn end(&self, session: &Session) -> Result<()> {
        Ok(self.store.delete_console_session(&session.token_hash).await?)
    }
}

/// 32 random bytes, base64url. Without randomness there is no session: a predictable token
/// would be worse than none.
fn random_token() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| super::Error::Randomness(e.to_string()))?;
    Ok(Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

/// SHA-256, hex: how a token (or a password's hash, for its stamp) is kept.
pub fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
