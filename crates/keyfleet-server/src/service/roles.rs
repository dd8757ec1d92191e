//! IAM roles and managed policies, with IAM's rules and limits: roles with their trust and
//! inline policies; customer managed policies with up to five versions; AWS managed policies
//! built in ([`super::aws_policies`]); and attachments of either to users and roles. The
//! policies an identity is held to are its inline ones and the default versions of those
//! attached, read at each request, as IAM applies a change at once.

use super::aws_policies::{self, AwsPolicy};
use super::iam::{Iam, validate_name};
use super::policy::Policy;
use super::policy::trust::TrustPolicy;
use super::{Dependents, Error, IamEntity, IamInvalid, IamLimit, PolicyConflict, Result, now_ms};
use crate::common::ids;
use crate::service::audit::Identity;
use crate::store::{
    AddRoleOutcome, AttachOutcome, DeleteProfileOutcome, DeleteRoleOutcome, InstanceProfileRow, ManagedPolicyRow,
    PolicyChange, PolicyVersionRow, PrincipalKind, RoleRow, StoreError,
};

/// IAM's default quota of managed policies per user and per role.
pub const MANAGED_POLICIES_PER_PRINCIPAL: u32 = 10;
/// IAM's limit on versions per managed policy.
pub const VERSIONS_PER_POLICY: u32 = 5;
/// A role's session lasts an hour unless the role allows more.
pub const DEFAULT_MAX_SESSION_SECONDS: i64 = 3600;
/// The longest `MaxSessionDuration`, 12 hours.
pub const LONGEST_SESSION_SECONDS: i64 = 43_200;
/// IAM's quota on a trust policy's length.
const TRUST_POLICY_MAX_CHARS: usize = 2048;
/// IAM's quota on a managed policy document's length.
const MANAGED_POLICY_MAX_CHARS: usize = 6144;
/// IAM's quota on a role's inline policies together.
const ROLE_POLICIES_MAX_CHARS: usize = 10_240;

/// CreateRole's input.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// `RoleName`.
    pub name: String,
    /// `Path` (`/` when not given).
    pub path: String,
    /// `AssumeRolePolicyDocument`.
    pub trust_policy: String,
    /// `Description`.
    pub description: String,
    /// `MaxSessionDuration`.
    pub max_session_seconds: Option<i64>,
}

/// A managed policy as GetPolicy and ListPolicies describe it: AWS's or the account's.
#[derive(Debug, Clone)]
pub enum ManagedPolicy {
    /// A built-in AWS managed policy, with how many of the account's users and roles have it.
    Aws(&'static AwsPolicy, i64),
    /// A customer managed policy.
    Local(ManagedPolicyRow),
}

/// One version of a managed policy.
#[derive(Debug, Clone)]
pub struct PolicyVersion {
    /// `v1`.
    pub id: String,
    /// The document (not in CreatePolicyVersion's answer).
    pub document: String,
    /// Whether it is the default version.
    pub is_default: bool,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
}

/// `ListPolicies`' `Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyScope {
    /// AWS's and the account's.
    All,
    /// AWS's.
    Aws,
    /// The account's.
    Local,
}

impl Iam {
    /// `CreateRole`.
    pub async fn create_role(&self, account: &str, new: NewRole) -> Result<RoleRow> {
        validate_name("roleName", &new.name, 64)?;
        validate_path(&new.path)?;
        validate_description(&new.description)?;
        let max_session_seconds = new.max_session_seconds.unwrap_or(DEFAULT_MAX_SESSION_SECONDS);
        if !(DEFAULT_MAX_SESSION_SECONDS..=LONGEST_SESSION_SECONDS).contains(&max_session_seconds) {
            return Err(Error::IamValidation(IamInvalid::MaxSessionDuration(max_session_seconds)));
        }
        validate_trust_policy(&new.trust_policy)?;
        let row = RoleRow {
            role_id: ids::iam_unique_id("AROA"),
            name: new.name,
            path: new.path,
            trust_policy: new.trust_policy,
            description: new.description,
            max_session_seconds,
            created_ms: now_ms(),
        };
        match self.store.insert_role(account, &row).await {
            Err(StoreError::Duplicate) => Err(Error::IamEntityExists(IamEntity::Role(row.name))),
            other => other.map(|()| row).map_err(Error::from),
        }
    }

    /// `GetRole`.
    pub async fn role(&self, account: &str, name: &str) -> Result<RoleRow> {
        self.store.role(account, name).await?.ok_or_else(|| no_such_role(name))
    }

    /// `ListRoles`, with `PathPrefix`.
    pub async fn roles(&self, account: &str, path_prefix: &str) -> Result<Vec<RoleRow>> {
        Ok(self.store.roles(account).await?.into_iter().filter(|r| r.path.starts_with(path_prefix)).collect())
    }

    /// `UpdateAssumeRolePolicy`.
    pub async fn update_trust_policy(&self, account: &str, name: &str, document: &str) -> Result<()> {
        validate_trust_policy(document)?;
        if self.store.update_trust_policy(account, name, document).await? { Ok(()) } else { Err(no_such_role(name)) }
    }

    /// `DeleteRole`: only a role without inline and attached policies, as IAM requires.
    pub async fn delete_role(&self, account: &str, name: &str) -> Result<()> {
        match self.store.delete_role(account, name).await? {
            DeleteRoleOutcome::Deleted => Ok(()),
            DeleteRoleOutcome::NotFound => Err(no_such_role(name)),
            DeleteRoleOutcome::HasPolicies => Err(Error::IamDeleteConflict(Dependents::Policies)),
            DeleteRoleOutcome::HasAttachedPolicies => Err(Error::IamDeleteConflict(Dependents::AttachedPolicies)),
            DeleteRoleOutcome::InInstanceProfile => Err(Error::IamDeleteConflict(Dependents::InstanceProfileRole)),
        }
    }

    /// `CreateInstanceProfile`.
    pub async fn create_instance_profile(&self, account: &str, name: &str, path: &str) -> Result<InstanceProfileRow> {
        validate_name("instanceProfileName", name, 128)?;
        validate_path(path)?;
        let row = InstanceProfileRow {
            profile_id: ids::iam_unique_id("AIPA"),
            name: name.to_owned(),
            path: path.to_owned(),
            role: None,
            created_ms: now_ms(),
        };
        match self.store.insert_instance_profile(account, &row).await {
            Err(StoreError::Duplicate) => Err(Error::IamEntityExists(IamEntity::InstanceProfile(row.name))),
            other => other.map(|()| row).map_err(Error::from),
        }
    }

    /// `GetInstanceProfile`: the profile and its role.
    pub async fn instance_profile(&self, account: &str, name: &str) -> Result<(InstanceProfileRow, Option<RoleRow>)> {
        let profile = self
            .store
            .instance_profile(account, name)
            .await?
            .ok_or_else(|| Error::IamNoSuchEntity(IamEntity::InstanceProfile(name.to_owned())))?;
        let role = match &profile.role {
            Some(role) => self.store.role(account, role).await?,
            None => None,
        };
        Ok((profile, role))
    }

    /// `ListInstanceProfiles` (with `PathPrefix`) and `ListInstanceProfilesForRole`, each
    /// with its role.
    pub async fn instance_profiles(
        &self,
        account: &str,
        path_prefix: &str,
        of_role: Option<&str>,
    ) -> Result<Vec<(InstanceProfileRow, Option<RoleRow>)>> {
        if let Some(role) = of_role {
            self.role(account, role).await?;
        }
        let mut found = Vec::new();
        for profile in self.store.instance_profiles(account).await? {
            let in_role = |r: &str| profile.role.as_ref().is_some_and(|p| p.eq_ignore_ascii_case(r));
            if !profile.path.starts_with(path_prefix) || of_role.is_some_and(|r| !in_role(r)) {
                continue;
            }
            let role = match &profile.role {
                Some(role) => self.store.role(account, role).await?,
                None => None,
            };
            found.push((profile, role));
        }
        Ok(found)
    }

    /// `DeleteInstanceProfile`: only one without a role, as IAM requires.
    pub async fn delete_instance_profile(&self, account: &str, name: &str) -> Result<()> {
        match self.store.delete_instance_profile(account, name).await? {
            DeleteProfileOutcome::Deleted => Ok(()),
            DeleteProfileOutcome::NotFound => Err(Error::IamNoSuchEntity(IamEntity::InstanceProfile(name.to_owned()))),
            DeleteProfileOutcome::HasRole => Err(Error::IamDeleteConflict(Dependents::InstanceProfileRole)),
        }
    }

    /// `AddRoleToInstanceProfile`: a profile holds one role.
    pub async fn add_role_to_instance_profile(&self, account: &str, profile: &str, role: &str) -> Result<()> {
        match self.store.add_role_to_instance_profile(account, profile, role).await? {
            AddRoleOutcome::Added => Ok(()),
            AddRoleOutcome::NoProfile => Err(Error::IamNoSuchEntity(IamEntity::InstanceProfile(profile.to_owned()))),
            AddRoleOutcome::NoRole => Err(no_such_role(role)),
            AddRoleOutcome::Full => Err(Error::IamLimitExceeded(IamLimit::RolesPerInstanceProfile)),
        }
    }

    /// `RemoveRoleFromInstanceProfile`.
    pub async fn remove_role_from_instance_profile(&self, account: &str, profile: &str, role: &str) -> Result<()> {
        self.instance_profile(account, profile).await?;
        match self.store.remove_role_from_instance_profile(account, profile, role).await? {
            true => Ok(()),
            false => Err(no_such_role(role)),
        }
    }

    /// `PutRolePolicy`.
    pub async fn put_role_policy(&self, account: &str, role: &str, name: &str, document: &str) -> Result<()> {
        validate_name("policyName", name, 128)?;
        let others: usize = self
            .store
            .role_policies(account, role)
            .await?
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, d)| d.chars().filter(|c| !c.is_whitespace()).count())
            .sum();
        if others + document.chars().filter(|c| !c.is_whitespace()).count() > ROLE_POLICIES_MAX_CHARS {
            return Err(Error::IamLimitExceeded(IamLimit::PolicySize { user: role.to_owned() }));
        }
        Policy::parse(document).map_err(|e| Error::MalformedPolicy(e.0))?;
        if self.store.put_role_policy(account, role, name, document).await? { Ok(()) } else { Err(no_such_role(role)) }
    }

    /// `GetRolePolicy`.
    pub async fn role_policy(&self, account: &str, role: &str, name: &str) -> Result<(RoleRow, String)> {
        let found = self.role(account, role).await?;
        let policies = self.store.role_policies(account, role).await?;
        let document = policies.into_iter().find(|(n, _)| n == name).map(|(_, doc)| doc);
        Ok((found, document.ok_or_else(|| Error::IamNoSuchEntity(IamEntity::RolePolicy(name.to_owned())))?))
    }

    /// `ListRolePolicies`.
    pub async fn role_policy_names(&self, account: &str, role: &str) -> Result<Vec<String>> {
        self.role(account, role).await?;
        Ok(self.store.role_policies(account, role).await?.into_iter().map(|(n, _)| n).collect())
    }

    /// `DeleteRolePolicy`.
    pub async fn delete_role_policy(&self, account: &str, role: &str, name: &str) -> Result<()> {
        self.role(account, role).await?;
        match self.store.delete_role_policy(account, role, name).await? {
            true => Ok(()),
            false => Err(Error::IamNoSuchEntity(IamEntity::RolePolicy(name.to_owned()))),
        }
    }

    /// `CreatePolicy`.
    pub async fn create_policy(
        &self,
        account: &str,
        name: &str,
        path: &str,
        description: &str,
        document: &str,
    ) -> Result<ManagedPolicyRow> {
        validate_name("policyName", name, 128)?;
        validate_path(path)?;
        validate_description(description)?;
        validate_managed_document(document)?;
        let now = now_ms();
        let row = ManagedPolicyRow {
            policy_id: ids::iam_unique_id("ANPA"),
            arn: format!("arn:aws:iam::{account}:policy{path}{name}"),
            name: name.to_owned(),
            path: path.to_owned(),
            description: description.to_owned(),
            default_version: 1,
            attachment_count: 0,
            created_ms: now,
            updated_ms: now,
        };
        match self.store.insert_policy(account, &row, document).await {
            Err(StoreError::Duplicate) => Err(Error::IamEntityExists(IamEntity::Policy(name.to_owned()))),
            other => other.map(|()| row).map_err(Error::from),
        }
    }

    /// `GetPolicy`: AWS's by their ARN, or the account's.
    pub async fn managed_policy(&self, account: &str, arn: &str) -> Result<ManagedPolicy> {
        check_policy_arn(arn)?;
        if let Some(aws) = aws_policies::by_arn(arn) {
            return Ok(ManagedPolicy::Aws(aws, self.store.attachment_count(account, arn).await?));
        }
        let row = self.store.policy(account, arn).await?;
        row.map(ManagedPolicy::Local).ok_or_else(|| Error::IamNoSuchEntity(IamEntity::Policy(arn.to_owned())))
    }

    /// `ListPolicies`, by scope, path prefix and whether attached.
    pub async fn managed_policies(
        &self,
        account: &str,
        scope: PolicyScope,
        path_prefix: &str,
        only_attached: bool,
    ) -> Result<Vec<ManagedPolicy>> {
        let mut found = Vec::new();
        if scope != PolicyScope::Local {
            for aws in &aws_policies::AWS_POLICIES {
                found.push(ManagedPolicy::Aws(aws, self.store.attachment_count(account, &aws.arn()).await?));
            }
        }
        if scope != PolicyScope::Aws {
            found.extend(self.store.policies(account).await?.into_iter().map(ManagedPolicy::Local));
        }
        found.retain(|p| p.path().starts_with(path_prefix) && (!only_attached || p.attachment_count() > 0));
        Ok(found)
    }

    /// `GetPolicyVersion`.
    pub async fn policy_version(&self, account: &str, arn: &str, version: &str) -> Result<PolicyVersion> {
        let versions = self.policy_versions(account, arn).await?;
        let found = versions.into_iter().find(|v| v.id == version);
        found.ok_or_else(|| no_such_version(arn, version))
    }

    /// `ListPolicyVersions`, newest first as IAM lists them.
    pub async fn policy_versions(&self, account: &str, arn: &str) -> Result<Vec<PolicyVersion>> {
        match self.managed_policy(account, arn).await? {
            ManagedPolicy::Aws(aws, _) => Ok(vec![PolicyVersion {
                id: aws.version.to_owned(),
                document: aws.document.to_owned(),
                is_default: true,
                created_ms: aws.created_ms,
            }]),
            ManagedPolicy::Local(row) => {
                let versions = self.store.policy_versions(account, arn).await?;
                Ok(versions.into_iter().rev().map(|v| version_of(&row, v)).collect())
            }
        }
    }

    /// `CreatePolicyVersion`: at most five versions per policy.
    pub async fn create_policy_version(
        &self,
        account: &str,
        arn: &str,
        document: &str,
        make_default: bool,
    ) -> Result<PolicyVersion> {
        self.local_policy(account, arn).await?;
        validate_managed_document(document)?;
        match self.store.insert_policy_version(account, arn, document, make_default, VERSIONS_PER_POLICY).await? {
            Ok(version) => Ok(PolicyVersion {
                id: format!("v{version}"),
                document: document.to_owned(),
                is_default: make_default,
                created_ms: now_ms(),
            }),
            Err(PolicyChange::Conflict) => Err(Error::IamLimitExceeded(IamLimit::PolicyVersions)),
            Err(_) => Err(Error::IamNoSuchEntity(IamEntity::Policy(arn.to_owned()))),
        }
    }

    /// `DeletePolicyVersion`: not the default one.
    pub async fn delete_policy_version(&self, account: &str, arn: &str, version: &str) -> Result<()> {
        self.local_policy(account, arn).await?;
        let number = version_number(version)?;
        match self.store.delete_policy_version(account, arn, number).await? {
            PolicyChange::Done => Ok(()),
            PolicyChange::Conflict => Err(Error::IamPolicyConflict(PolicyConflict::DefaultVersion)),
            PolicyChange::NotFound => Err(no_such_version(arn, version)),
        }
    }

    /// `SetDefaultPolicyVersion`.
    pub async fn set_default_policy_version(&self, account: &str, arn: &str, version: &str) -> Result<()> {
        self.local_policy(account, arn).await?;
        let number = version_number(version)?;
        match self.store.set_default_policy_version(account, arn, number).await? {
            PolicyChange::Done => Ok(()),
            _ => Err(no_such_version(arn, version)),
        }
    }

    /// `DeletePolicy`: only one attached to nobody, with only its default version left.
    pub async fn delete_policy(&self, account: &str, arn: &str) -> Result<()> {
        let row = self.local_policy(account, arn).await?;
        match self.store.delete_policy(account, arn).await? {
            PolicyChange::Done => Ok(()),
            PolicyChange::NotFound => Err(Error::IamNoSuchEntity(IamEntity::Policy(arn.to_owned()))),
            PolicyChange::Conflict if row.attachment_count > 0 => {
                Err(Error::IamPolicyConflict(PolicyConflict::Attached))
            }
            PolicyChange::Conflict => {
                // Read again: the refusal may have been the attachments made since.
                let now = self.store.policy(account, arn).await?;
                match now.is_some_and(|p| p.attachment_count > 0) {
                    true => Err(Error::IamPolicyConflict(PolicyConflict::Attached)),
                    false => Err(Error::IamPolicyConflict(PolicyConflict::HasVersions)),
                }
            }
        }
    }

    /// `AttachRolePolicy` / `AttachUserPolicy`: AWS's by ARN, or one of the account's.
    pub async fn attach_policy(&self, account: &str, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        check_policy_arn(arn)?;
        let local = aws_policies::by_arn(arn).is_none();
        if local && !arn.starts_with(&format!("arn:aws:iam::{account}:policy/")) {
            return Err(Error::IamPolicyNotAttachable(arn.to_owned()));
        }
        let limit = MANAGED_POLICIES_PER_PRINCIPAL;
        match self.store.attach_policy(account, kind, name, arn, local, limit).await? {
            AttachOutcome::Attached => Ok(()),
            AttachOutcome::NoPrincipal => Err(no_such_principal(kind, name)),
            AttachOutcome::NoPolicy => Err(Error::IamPolicyNotAttachable(arn.to_owned())),
            AttachOutcome::LimitExceeded => {
                Err(Error::IamLimitExceeded(IamLimit::AttachedPolicies { role: kind == PrincipalKind::Role, limit }))
            }
        }
    }

    /// `DetachRolePolicy` / `DetachUserPolicy`.
    pub async fn detach_policy(&self, account: &str, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        check_policy_arn(arn)?;
        self.principal_exists(account, kind, name).await?;
        match self.store.detach_policy(account, kind, name, arn).await? {
            true => Ok(()),
            false => Err(Error::IamNoSuchEntity(IamEntity::Attachment(arn.to_owned()))),
        }
    }

    /// `ListAttachedRolePolicies` / `ListAttachedUserPolicies`: `(name, arn)` of each.
    pub async fn attached_policies(
        &self,
        account: &str,
        kind: PrincipalKind,
        name: &str,
        path_prefix: &str,
    ) -> Result<Vec<(String, String)>> {
        self.principal_exists(account, kind, name).await?;
        let arns = self.store.attached_policies(account, kind, name).await?;
        let named = arns.into_iter().filter_map(|arn| {
            let (path, name) = split_policy_arn(&arn)?;
            path.starts_with(path_prefix).then(|| (name.to_owned(), arn.clone()))
        });
        Ok(named.collect())
    }

    /// The policies an identity is held to (`None`: the root, which nothing restricts).
    pub async fn policies_of_identity(&self, account: &str, identity: &Identity) -> Result<Option<Vec<Policy>>> {
        Ok(match identity {
            Identity::Root => None,
            Identity::User(user) => Some(self.policies_of(account, user).await?),
            Identity::Role(session) => Some(self.role_policies_of(account, &session.role).await?),
        })
    }

    /// A role's inline policies and the default versions of those attached to it.
    pub async fn role_policies_of(&self, account: &str, role: &str) -> Result<Vec<Policy>> {
        let inline = self.store.role_policies(account, role).await?;
        let mut documents: Vec<String> = inline.into_iter().map(|(_, doc)| doc).collect();
        documents.extend(self.attached_documents(account, PrincipalKind::Role, role).await?);
        // Documents were validated when stored; one that no longer parses grants nothing.
        Ok(documents.iter().filter_map(|doc| Policy::parse(doc).ok()).collect())
    }

    /// The default versions' documents of the managed policies attached to a user or role.
    pub(super) async fn attached_documents(
        &self,
        account: &str,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<Vec<String>> {
        let mut documents = Vec::new();
        for arn in self.store.attached_policies(account, kind, name).await? {
            if let Some(aws) = aws_policies::by_arn(&arn) {
                documents.push(aws.document.to_owned());
                continue;
            }
            let Some(row) = self.store.policy(account, &arn).await? else { continue };
            let versions = self.store.policy_versions(account, &arn).await?;
            documents.extend(versions.into_iter().filter(|v| v.version == row.default_version).map(|v| v.document));
        }
        Ok(documents)
    }

    async fn local_policy(&self, account: &str, arn: &str) -> Result<ManagedPolicyRow> {
        match self.managed_policy(account, arn).await? {
            ManagedPolicy::Local(row) => Ok(row),
            // AWS's own cannot be changed: as IAM answers for a policy the account lacks.
            ManagedPolicy::Aws(..) => Err(Error::IamNoSuchEntity(IamEntity::Policy(arn.to_owned()))),
        }
    }

    async fn principal_exists(&self, account: &str, kind: PrincipalKind, name: &str) -> Result<()> {
        let exists = match kind {
            PrincipalKind::Role => self.store.role(account, name).await?.is_some(),
            PrincipalKind::User => self.store.user(account, name).await?.is_some(),
        };
        if exists { Ok(()) } else { Err(no_such_principal(kind, name)) }
    }
}

impl ManagedPolicy {
    /// Its ARN.
    pub fn arn(&self) -> String {
        match self {
            ManagedPolicy::Aws(aws, _) => aws.arn(),
            ManagedPolicy::Local(row) => row.arn.clone(),
        }
    }

    /// Its path.
    pub fn path(&self) -> &str {
        match self {
            ManagedPolicy::Aws(aws, _) => aws.path,
            ManagedPolicy::Local(row) => &row.path,
        }
    }

    /// How many of the account's users and roles have it attached.
    pub fn attachment_count(&self) -> i64 {
        match self {
            ManagedPolicy::Aws(_, count) => *count,
            ManagedPolicy::Local(row) => row.attachment_count,
        }
    }
}

fn version_of(row: &ManagedPolicyRow, version: PolicyVersionRow) -> PolicyVersion {
    PolicyVersion {
        id: format!("v{}", version.version),
        document: version.document,
        is_default: version.version == row.default_version,
        created_ms: version.created_ms,
    }
}

/// `v3` → 3.
fn version_number(version: &str) -> Result<i64> {
    let number = version.strip_prefix('v').and_then(|n| n.parse::<i64>().ok()).filter(|n| *n >= 1);
    number.ok_or_else(|| Error::IamValidation(IamInvalid::VersionId(version.to_owned())))
}

/// `arn:aws:iam::ACCOUNT:policy/PATH/NAME` → (`/PATH/`, `NAME`).
pub fn split_policy_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (owner, resource) = rest.split_once(':')?;
    let valid_owner = owner == "aws" || (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()));
    let full = resource.strip_prefix("policy")?;
    let cut = full.rfind('/').filter(|_| full.starts_with('/'))?;
    let (path, name) = full.split_at(cut + 1);
    (valid_owner && !name.is_empty()).then_some((path, name))
}

fn check_policy_arn(arn: &str) -> Result<()> {
    split_policy_arn(arn).map(drop).ok_or(Error::IamValidation(IamInvalid::PolicyArn))
}

/// IAM's path rule: `/`, or `/` + printable ASCII + `/`, at most 512 characters.
fn validate_path(path: &str) -> Result<()> {
    let printable = |c: char| ('\u{21}'..='\u{7e}').contains(&c);
    let valid = path == "/"
        || (path.len() <= 512
            && path.len() > 2
            && path.starts_with('/')
            && path.ends_with('/')
            && path.chars().all(printable)
            && !path.contains("//"));
    if valid { Ok(()) } else { Err(Error::IamValidation(IamInvalid::Path(path.to_owned()))) }
}

/// IAM's rule for descriptions: at most 1000 of tab, newline, return and printable Latin-1.
fn validate_description(text: &str) -> Result<()> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}');
    if text.chars().count() > 1000 || !text.chars().all(allowed) {
        return Err(Error::IamValidation(IamInvalid::Description));
    }
    Ok(())
}

fn validate_trust_policy(document: &str) -> Result<()> {
    if document.chars().filter(|c| !c.is_whitespace()).count() > TRUST_POLICY_MAX_CHARS {
        return Err(Error::IamLimitExceeded(IamLimit::PolicySize { user: "AssumeRolePolicyDocument".into() }));
    }
    TrustPolicy::parse(document).map(drop).map_err(|e| Error::MalformedPolicy(e.0))
}

fn validate_managed_document(document: &str) -> Result<()> {
    if document.chars().filter(|c| !c.is_whitespace()).count() > MANAGED_POLICY_MAX_CHARS {
        return Err(Error::MalformedPolicy("Cannot exceed quota for PolicySize: 6144".into()));
    }
    Policy::parse(document).map(drop).map_err(|e| Error::MalformedPolicy(e.0))
}

fn no_such_role(name: &str) -> Error {
    Error::IamNoSuchEntity(IamEntity::Role(name.to_owned()))
}

fn no_such_principal(kind: PrincipalKind, name: &str) -> Error {
    match kind {
        PrincipalKind::Role => no_such_role(name),
        PrincipalKind::User => Error::IamNoSuchEntity(IamEntity::User(name.to_owned())),
    }
}

fn no_such_version(arn: &str, version: &str) -> Error {
    Error::IamNoSuchEntity(IamEntity::PolicyVersion { arn: arn.to_owned(), version: version.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_split_into_path_and_name() {
        assert_eq!(split_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess"), Some(("/", "AdministratorAccess")));
        assert_eq!(
            split_policy_arn("arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole"),
            Some(("/service-role/", "AmazonSSMAutomationRole"))
        );
        assert_eq!(split_policy_arn("arn:aws:iam::111122223333:policy/a/b/keys"), Some(("/a/b/", "keys")));
        assert_eq!(split_policy_arn("arn:aws:iam::1111:policy/keys"), None);
        assert_eq!(split_policy_arn("arn:aws:iam::111122223333:role/keys"), None);
        assert_eq!(split_policy_arn("arn:aws:iam::111122223333:policy/"), None);
        assert_eq!(split_policy_arn("nope"), None);
    }

    #[test]
    fn paths_are_slash_delimited_printable_ascii() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/service-role/").is_ok());
        assert!(validate_path("service-role/").is_err());
        assert!(validate_path("/a").is_err());
        assert!(validate_path("/a b/").is_err());
        assert!(validate_path("//").is_err());
    }
}
