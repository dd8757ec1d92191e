//! Identities: users, their access keys and inline policies, with IAM's rules and limits.
//!
//! An access key's secret must be recoverable (SigV4 verification recomputes the HMAC with
//! it), so it cannot be hashed. It is sealed under the master key, with the key id as the
//! associated data: a copy of the database alone cannot sign a request, and a sealed secret
//! cannot be moved to another key id.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::envelope::MasterKey;
use super::password;
use super::policy::Policy;
use super::{Dependents, Error, IamEntity, IamInvalid, IamLimit, Result, now_ms};
use crate::common::ids;
use crate::store::{
    AccessKeyRow, AccessKeyStatus, DeleteUserOutcome, LoginProfileChange, LoginProfileRow, Store, StoreError, UserRow,
};

/// IAM's limit on access keys per user.
pub const ACCESS_KEYS_PER_USER: u32 = 2;

/// An access key just created: the only time its secret is returned.
pub struct NewAccessKey {
    /// The stored row (its secret sealed).
    pub row: AccessKeyRow,
    /// The secret, in the clear.
    pub secret: Zeroizing<String>,
}

/// What a console password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// No such user, no password, or another password.
    Wrong,
    /// The password.
    Right,
    /// The password, which must now be replaced (`PasswordResetRequired`).
    MustChange,
}

/// A user's access key resolved for authentication.
pub struct ResolvedKey {
    /// The account.
    pub account: String,
    /// The user, or `None` for the account's root key.
    pub user: Option<String>,
    /// The secret, opened.
    pub secret: Zeroizing<String>,
    /// `Active` or `Inactive`.
    pub active: bool,
}

/// Users, access keys and policies.
pub struct Iam {
    pub(super) store: Arc<dyn Store>,
    pub(super) master_key: Arc<MasterKey>,
}

impl Iam {
    /// IAM over `store`, sealing secrets with `master_key`.
    pub fn new(store: Arc<dyn Store>, master_key: Arc<MasterKey>) -> Self {
        Iam { store, master_key }
    }

    /// `CreateUser`.
    pub async fn create_user(&self, account: &str, name: &str) -> Result<UserRow> {
        validate_name("userName", name, 64)?;
        let row = UserRow { name: name.to_owned(), user_id: ids::iam_unique_id("AIDA"), created_ms: now_ms() };
        match self.store.insert_user(account, &row).await {
            Err(StoreError::Duplicate) => Err(Error::IamEntityExists(IamEntity::User(name.to_owned()))),
            other => other.map(|()| row).map_err(Error::from),
        }
    }

    /// `DeleteUser`: only a user without access keys and policies, as IAM requires.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<()> {
        match self.store.delete_user(account, name).await? {
            DeleteUserOutcome::Deleted => Ok(()),
            DeleteUserOutcome::NotFound => Err(no_such_user(name)),
            DeleteUserOutcome::HasAccessKeys => Err(Error::IamDeleteConflict(Dependents::AccessKeys)),
            DeleteUserOutcome::HasPolicies => Err(Error::IamDeleteConflict(Dependents::Policies)),
            DeleteUserOutcome::HasLoginProfile => Err(Error::IamDeleteConflict(Dependents::LoginProfile)),
            DeleteUserOutcome::HasAttachedPolicies => Err(Error::IamDeleteConflict(Dependents::AttachedPolicies)),
        }
    }

    /// `ListUsers`.
    pub async fn users(&self, account: &str) -> Result<Vec<UserRow>> {
        Ok(self.store.users(account).await?)
    }

    /// `GetUser`.
    pub async fn user(&self, account: &str, name: &str) -> Result<UserRow> {
        self.store.user(account, name).await?.ok_or_else(|| no_such_user(name))
    }

    /// `CreateAccessKey`: at most two per user.
    pub async fn create_access_key(&self, account: &str, user: &str) -> Result<NewAccessKey> {
        let id = ids::access_key_id();
        let secret = ids::secret_access_key();
        let sealed_secret = self.master_key.seal(secret.as_bytes(), &secret_context(&id)).map_err(Error::Secret)?;
        let stored = self.store.user(account, user).await?.ok_or_else(|| no_such_user(user))?;
        let row = AccessKeyRow {
            id,
            account: account.to_owned(),
            user_name: stored.name,
            sealed_secret,
            status: AccessKeyStatus::Active,
            created_ms: now_ms(),
        };
        match self.store.insert_access_key(&row, ACCESS_KEYS_PER_USER).await {
            Ok(true) => Ok(NewAccessKey { row, secret }),
            Ok(false) => Err(no_such_user(user)),
            Err(StoreError::QuotaExceeded(n)) => Err(Error::IamLimitExceeded(IamLimit::AccessKeysPerUser(n))),
            Err(e) => Err(e.into()),
        }
    }

    /// A new account with a root access key (full access to the account), for
    /// `keyfleet admin account create`. The admin key's account needs none.
    pub async fn create_account(&self) -> Result<NewAccessKey> {
        let id = ids::access_key_id();
        let secret = ids::secret_access_key();
        let sealed_secret = self.master_key.seal(secret.as_bytes(), &secret_context(&id)).map_err(Error::Secret)?;
        let row = AccessKeyRow {
            id,
            account: ids::account_id(),
            user_name: String::new(),
            sealed_secret,
            status: AccessKeyStatus::Active,
            created_ms: now_ms(),
        };
        self.store.insert_root_access_key(&row).await?;
        Ok(NewAccessKey { row, secret })
    }

    /// `DeleteAccessKey`.
    pub async fn delete_access_key(&self, account: &str, user: &str, id: &str) -> Result<()> {
        self.user(account, user).await?;
        if self.store.delete_access_key(account, user, id).await? {
            Ok(())
        } else {
            Err(Error::IamNoSuchEntity(IamEntity::AccessKey(id.to_owned())))
        }
    }

    /// `ListAccessKeys`.
    pub async fn access_keys(&self, account: &str, user: &str) -> Result<Vec<AccessKeyRow>> {
        self.user(account, user).await?;
        Ok(self.store.access_keys(account, user).await?)
    }

    /// `PutUserPolicy`: the document must parse and use only what the evaluator knows.
    pub async fn put_user_policy(&self, account: &str, user: &str, name: &str, document: &str) -> Result<()> {
        validate_name("policyName", name, 128)?;
        if document.len() > 2048 {
            return Err(Error::IamLimitExceeded(IamLimit::PolicySize { user: user.to_owned() }));
        }
        Policy::parse(document).map_err(|e| Error::MalformedPolicy(e.0))?;
        if self.store.put_user_policy(account, user, name, document).await? { Ok(()) } else { Err(no_such_user(user)) }
    }

    /// `GetUserPolicy`.
    pub async fn user_policy(&self, account: &str, user: &str, name: &str) -> Result<String> {
        self.user(account, user).await?;
        let policies = self.store.user_policies(account, user).await?;
        policies.into_iter().find(|(n, _)| n == name).map(|(_, doc)| doc).ok_or_else(|| no_such_policy(name))
    }

    /// `ListUserPolicies`.
    pub async fn user_policy_names(&self, account: &str, user: &str) -> Result<Vec<String>> {
        self.user(account, user).await?;
        Ok(self.store.user_policies(account, user).await?.into_iter().map(|(n, _)| n).collect())
    }

    /// `DeleteUserPolicy`.
    pub async fn delete_user_policy(&self, account: &str, user: &str, name: &str) -> Result<()> {
        self.user(account, user).await?;
        if self.store.delete_user_policy(account, user, name).await? { Ok(()) } else { Err(no_such_policy(name)) }
    }

    /// `CreateLoginProfile`: a console password for a user that has none.
    pub async fn create_login_profile(
        &self,
        account: &str,
        user: &str,
        password: Zeroizing<String>,
        reset_required: bool,
    ) -> Result<LoginProfileRow> {
        let stored = self.user(account, user).await?;
        let row = LoginProfileRow {
            user_name: stored.name,
            password_hash: password::hash(password).await?,
            reset_required,
            created_ms: now_ms(),
        };
        match self.store.insert_login_profile(account, &row).await {
            Ok(true) => Ok(row),
            Ok(false) => Err(no_such_user(user)),
            Err(StoreError::Duplicate) => Err(Error::IamEntityExists(IamEntity::LoginProfile(row.user_name))),
            Err(e) => Err(e.into()),
        }
    }

    /// `GetLoginProfile`.
    pub async fn login_profile(&self, account: &str, user: &str) -> Result<LoginProfileRow> {
        let stored = self.user(account, user).await?;
        self.store.login_profile(account, user).await?.ok_or(no_such_profile(stored.name))
    }

    /// `UpdateLoginProfile`: a new password, a new reset flag, or both.
    pub async fn update_login_profile(
        &self,
        account: &str,
        user: &str,
        password: Option<Zeroizing<String>>,
        reset_required: Option<bool>,
    ) -> Result<()> {
        let stored = self.user(account, user).await?;
        let password_hash = match password {
            Some(password) => Some(password::hash(password).await?),
            None => None,
        };
        let change = LoginProfileChange { password_hash, reset_required };
        if self.store.update_login_profile(account, user, &change).await? {
            Ok(())
        } else {
            Err(no_such_profile(stored.name))
        }
    }

    /// `DeleteLoginProfile`.
    pub async fn delete_login_profile(&self, account: &str, user: &str) -> Result<()> {
        let stored = self.user(account, user).await?;
        if self.store.delete_login_profile(account, user).await? { Ok(()) } else { Err(no_such_profile(stored.name)) }
    }

    /// Checks a console password. Takes the same time whether or not the user or its profile
    /// exists, so that a sign-in failure does not tell which.
    pub async fn check_password(
        &self,
        account: &str,
        user: &str,
        password: Zeroizing<String>,
    ) -> Result<PasswordCheck> {
        let profile = self.store.login_profile(account, user).await?;
        let hash = profile.as_ref().map(|p| p.password_hash.clone());
        let matched = password::verify(password, hash).await?;
        Ok(match profile {
            Some(profile) if matched && profile.reset_required => PasswordCheck::MustChange,
            Some(_) if matched => PasswordCheck::Right,
            _ => PasswordCheck::Wrong,
        })
    }

    /// What a password session is bound to: the user's id and a digest of its password's
    /// hash, as one string. A new password, or a new user of the same name, changes it. `None`
    /// when the user or its password is gone.
    pub async fn password_stamp(&self, account: &str, user: &str) -> Result<Option<String>> {
        let Some(stored) = self.store.user(account, user).await? else { return Ok(None) };
        let profile = self.store.login_profile(account, user).await?;
        Ok(profile.map(|p| format!("{}:{}", stored.user_id, super::console::hash(&p.password_hash))))
    }

    /// A user's own new password at sign-in, once the old one was checked (IAM's
    /// `ChangePassword`, which a forced reset allows): the reset requirement is then met.
    pub async fn change_own_password(&self, account: &str, user: &str, new: Zeroizing<String>) -> Result<()> {
        let change =
            LoginProfileChange { password_hash: Some(password::hash(new).await?), reset_required: Some(false) };
        if self.store.update_login_profile(account, user, &change).await? {
            Ok(())
        } else {
            Err(no_such_profile(user.to_owned()))
        }
    }

    /// Finds a user's access key and opens its secret, for signature verification.
    pub async fn resolve_access_key(&self, id: &str) -> Result<Option<ResolvedKey>> {
        let Some(row) = self.store.access_key(id).await? else { return Ok(None) };
        let secret = self.open_secret(&row.sealed_secret, &secret_context(&row.id))?;
        Ok(Some(ResolvedKey {
            account: row.account,
            user: Some(row.user_name).filter(|u| !u.is_empty()),
            secret,
            active: row.status == AccessKeyStatus::Active,
        }))
    }

    /// A secret sealed under the master key for `context`, opened as text.
    pub(super) fn open_secret(&self, sealed: &str, context: &str) -> Result<Zeroizing<String>> {
        let secret = self.master_key.open(sealed, context).map_err(Error::Secret)?;
        let text =
            String::from_utf8(secret.to_vec()).map_err(|_| Error::Secret(super::envelope::EnvelopeError::Corrupt))?;
        Ok(Zeroizing::new(text))
    }

    /// A user's inline policies and the default versions of those attached to it, parsed,
    /// for authorization.
    pub async fn policies_of(&self, account: &str, user: &str) -> Result<Vec<Policy>> {
        let inline = self.store.user_policies(account, user).await?;
        let mut documents: Vec<String> = inline.into_iter().map(|(_, doc)| doc).collect();
        documents.extend(self.attached_documents(account, crate::store::PrincipalKind::User, user).await?);
        // Documents were validated when stored; one that no longer parses grants nothing.
        Ok(documents.iter().filter_map(|doc| Policy::parse(doc).ok()).collect())
    }
}

fn secret_context(access_key_id: &str) -> String {
    format!("iam-access-key:{access_key_id}")
}

fn no_such_user(name: &str) -> Error {
    Error::IamNoSuchEntity(IamEntity::User(name.to_owned()))
}

fn no_such_profile(user: String) -> Error {
    Error::IamNoSuchEntity(IamEntity::LoginProfile(user))
}

fn no_such_policy(name: &str) -> Error {
    Error::IamNoSuchEntity(IamEntity::UserPolicy(name.to_owned()))
}

/// IAM's name rule: 1..=max characters of `[\w+=,.@-]`.
pub(super) fn validate_name(member: &'static str, name: &str, max: usize) -> Result<()> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if name.is_empty() || name.len() > max || !name.chars().all(valid_char) {
        return Err(Error::IamValidation(IamInvalid::NamePattern { value: name.to_owned(), member }));
    }
    Ok(())
}
