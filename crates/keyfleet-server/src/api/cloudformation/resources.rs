//! The resource handlers: each resource type made, changed and removed with the API's own
//! operations through the pipeline ([`operation::execute`]), so that a stack's resources
//! are authorized, validated and audited exactly as the same calls from the caller (or the
//! stack's service role) would be. CloudTrail shows them invoked by CloudFormation.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::api::authorize::{Principal, Service, Trail};
use crate::api::error::ApiError;
use crate::api::operation::{self, Operation, Protocol};
use crate::api::protocol::ec2_query::QueryParams;
use crate::api::protocol::json11::JsonInput;
use crate::api::ssm::automation::{AssumingService, acting_actor, admit_for_service};
use crate::api::{AppState, Context};
use crate::service::audit::ApiCall;
use crate::service::automation::Acting;
use crate::service::cloudformation::intrinsics::Provisioned;
use crate::service::cloudformation::template::text_of;
use crate::service::cloudformation::{Provisioner, ResourceFailure, ResourceRequest, SERVICE_PRINCIPAL, StackInvalid};
use crate::service::roles::ManagedPolicy;
use crate::store::{InstanceState, PinnedRole, Scope, UnitOfWork};

use crate::api::ec2::instances as ec2_instances;
use crate::api::ec2::key_pairs as ec2_keys;
use crate::api::ec2::security_groups as ec2_groups;
use crate::api::iam::{
    self as iam_api, instance_profiles as iam_profiles, policies as iam_policies, roles as iam_roles,
};
use crate::api::ssm::parameters as ssm_parameters;

mod auto_scaling_group;
mod launch_template;

/// How long a handler waits for an instance to reach its state.
const INSTANCE_WAIT: Duration = Duration::from_secs(300);

/// `RoleARN` admitted for a stack: a role of the caller's account whose trust policy admits
/// CloudFormation, pinned by id.
pub(super) async fn admit_role(ctx: &Context<'_>, role: &str) -> Result<PinnedRole, ApiError> {
    let unusable = || crate::service::Error::from(StackInvalid::Role(role.to_owned()));
    let Some((account, ..)) = crate::service::sts::parse_role_arn(role) else { return Err(unusable().into()) };
    if account != ctx.scope.account {
        return Err(unusable().into());
    }
    let service = AssumingService { principal: SERVICE_PRINCIPAL, source_arn: None };
    match admit_for_service(&ctx.state.iam, &ctx.scope, role, &service, "AWSCloudFormation").await {
        Ok(found) => Ok(PinnedRole { arn: role.to_owned(), role_id: found.role_id }),
        Err(crate::service::Error::StsAccessDenied { .. } | crate::service::Error::StsValidation(_)) => {
            Err(unusable().into())
        }
        Err(other) => Err(other.into()),
    }
}

/// The handlers, on the server's state (weak: the state owns the stacks that own them).
pub struct Handlers {
    state: Weak<AppState>,
}

impl Handlers {
    /// Handlers for the server whose state this is.
    pub fn new(state: Weak<AppState>) -> Self {
        Handlers { state }
    }

    /// Runs `O` through the pipeline as the stack acts, and records it in the audit log.
    async fn run<O: Operation>(
        &self,
        call: &ResourceRequest<'_>,
        service: Service,
        input: &<O::Protocol as Protocol>::Request,
        parameters: Value,
    ) -> Result<O::Output, ApiError> {
        let state = self.state.upgrade().ok_or_else(|| ApiError::internal(&"the server is stopping"))?;
        let assuming = AssumingService { principal: SERVICE_PRINCIPAL, source_arn: None };
        let actor = acting_actor(&state.iam, call.scope, call.acting, &assuming)
            .await
            .map_err(|(code, message)| ApiError::bad_request("AccessDenied", format!("{code}: {message}")))?;
        let policies = state.iam.policies_of_identity(&actor.account, &actor.identity).await?;
        // CloudFormation calls the other services from inside AWS, over TLS.
        let principal = Principal { actor, policies, source_ip: SERVICE_PRINCIPAL.to_owned(), secure_transport: true };
        let request_id = crate::common::ids::request_id();
        let work = UnitOfWork::for_request();
        let trail = Trail::default();
        let ctx = Context {
            state: &state,
            scope: call.scope.clone(),
            request_id: &request_id,
            principal: &principal,
            service,
            work: &work,
        };
        let outcome = operation::execute::<O>(&ctx, &trail, input).await;
        let record = ApiCall {
            actor: principal.actor.clone(),
            region: call.scope.region.clone(),
            event_source: service.event_source(),
            event_name: O::NAME.to_owned(),
            read_only: O::READ_ONLY,
            source_ip: SERVICE_PRINCIPAL.to_owned(),
            user_agent: SERVICE_PRINCIPAL.to_owned(),
            parameters,
            resources: trail.resources(),
            error: outcome.as_ref().err().map(|e| (e.code.to_string(), e.message.clone())),
            request_id,
        };
        state.audit.api_call(record, work).await;
        outcome
    }

    async fn query<O>(&self, call: &ResourceRequest<'_>, service: Service, pairs: Pairs) -> Result<O::Output, ApiError>
    where
        O: Operation,
        O::Protocol: Protocol<Request = QueryParams>,
    {
        let mut all = params([("Action", O::NAME.to_owned())]);
        all.extend(pairs);
        let input = QueryParams::from_pairs(all);
        // As at the API edge: a value XML cannot carry would break every later listing.
        input.check_xml_safe()?;
        let parameters = input.audit_json();
        self.run::<O>(call, service, &input, parameters).await
    }

    async fn json<O>(&self, call: &ResourceRequest<'_>, body: Map<String, Value>) -> Result<O::Output, ApiError>
    where
        O: Operation,
        O::Protocol: Protocol<Request = JsonInput>,
    {
        let input = JsonInput::from_map(body);
        let parameters = input.audit_json();
        let outcome = self.run::<O>(call, Service::Ssm, &input, parameters).await;
        input.wipe();
        outcome
    }
}

/// What a handler's failed call becomes in the resource's event.
fn failure(e: &ApiError) -> ResourceFailure {
    ResourceFailure(format!(
        "Resource handler returned message: \"{}\" (Service: {}, Status Code: {}, Error Code: {})",
        e.message,
        "keyfleet",
        e.status.as_u16(),
        e.code
    ))
}

/// A call whose "already gone" answer is success (deletes).
fn gone_ok<T>(outcome: Result<T, ApiError>, gone: &[&str]) -> Result<(), ResourceFailure> {
    match outcome {
        Ok(_) => Ok(()),
        Err(e) if gone.contains(&e.code.as_ref()) => Ok(()),
        Err(e) => Err(failure(&e)),
    }
}

/// The properties whose value is a list or an object.
const STRUCTURED: [&str; 16] = [
    "Tags",
    "AvailabilityZones",
    "VPCZoneIdentifier",
    "LaunchTemplate",
    "LaunchTemplateData",
    "TagSpecifications",
    "SecurityGroupIds",
    "SecurityGroups",
    "SecurityGroupIngress",
    "SecurityGroupEgress",
    "AssumeRolePolicyDocument",
    "Policies",
    "ManagedPolicyArns",
    "PolicyDocument",
    "Roles",
    "Users",
];

/// A resource's properties, with CloudFormation's validation messages.
struct Props<'a> {
    logical_id: &'a str,
    map: Map<String, Value>,
}

impl<'a> Props<'a> {
    fn of(call: &ResourceRequest<'a>, allowed: &[&str]) -> Result<Self, ResourceFailure> {
        let map = call.properties.as_object().cloned().unwrap_or_default();
        let props = Props { logical_id: call.logical_id, map };
        if let Some(extra) = props.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(props.invalid(format!("#: extraneous key [{extra}] is not permitted")));
        }
        // Every other property is one value: a list or an object there is refused, not sent
        // on as its JSON text.
        let misshapen =
            props.map.iter().find(|(k, v)| (v.is_array() || v.is_object()) && !STRUCTURED.contains(&k.as_str()));
        if let Some((key, _)) = misshapen {
            return Err(props.invalid(format!("#/{key}: expected type: String")));
        }
        Ok(props)
    }

    /// Properties the stack already holds (made with them, or being changed from them): not
    /// checked again.
    fn stored(call: &ResourceRequest<'a>, properties: &Value) -> Self {
        Props { logical_id: call.logical_id, map: properties.as_object().cloned().unwrap_or_default() }
    }

    fn invalid(&self, why: String) -> ResourceFailure {
        ResourceFailure(format!("Properties validation failed for resource {} with message: {why}", self.logical_id))
    }

    fn text(&self, key: &str) -> Option<String> {
        self.map.get(key).filter(|v| !v.is_null()).map(text_of)
    }

    fn required(&self, key: &str) -> Result<String, ResourceFailure> {
        self.text(key).ok_or_else(|| self.invalid(format!("#: required key [{key}] not found")))
    }

    /// A policy document: written as JSON text, or as an object.
    fn document(&self, key: &str) -> Result<String, ResourceFailure> {
        match self.map.get(key) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(value @ Value::Object(_)) => Ok(value.to_string()),
            _ => Err(self.invalid(format!("#: required key [{key}] not found"))),
        }
    }

    fn strings(&self, key: &str) -> Vec<String> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items.iter().map(text_of).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![text_of(one)],
        }
    }

    fn list(&self, key: &str) -> Vec<Value> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// `Tags` as a list of `{Key, Value}`.
    fn tags(&self) -> Result<Vec<(String, String)>, ResourceFailure> {
        let mut tags = Vec::new();
        for (n, tag) in self.list("Tags").iter().enumerate() {
            let member = |key: &str| {
                tag.get(key)
                    .map(text_of)
                    .ok_or_else(|| self.invalid(format!("#/Tags/{n}: required key [{key}] not found")))
            };
            tags.push((member("Key")?, member("Value")?));
        }
        Ok(tags)
    }
}

/// `TagSpecification.1` for `kind`: the resource's own tags, then the stack's.
fn tag_specification(kind: &str, own: &[(String, String)], stack: &[(String, String)]) -> Pairs {
    let mut all: Vec<(String, String)> = stack.to_vec();
    for (key, value) in own {
        all.retain(|(k, _)| k != key);
        all.push((key.clone(), value.clone()));
    }
    if all.is_empty() {
        return Vec::new();
    }
    let mut pairs = params([("TagSpecification.1.ResourceType", kind.to_owned())]);
    for (n, (key, value)) in all.into_iter().enumerate() {
        pairs.push((format!("TagSpecification.1.Tag.{}.Key", n + 1), key));
        pairs.push((format!("TagSpecification.1.Tag.{}.Value", n + 1), value));
    }
    pairs
}

/// A request's parameters, in order.
type Pairs = Vec<(String, String)>;

fn params<const N: usize>(fixed: [(&str, String); N]) -> Pairs {
    fixed.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn attributes(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

#[async_trait]
impl Provisioner for Handlers {
    async fn create(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        match call.kind {
            "AWS::EC2::KeyPair" => self.create_key_pair(call).await,
            "AWS::EC2::Instance" => self.create_instance(call).await,
            "AWS::EC2::SecurityGroup" => self.create_security_group(call).await,
            "AWS::EC2::LaunchTemplate" => self.create_launch_template(call).await,
            "AWS::AutoScaling::AutoScalingGroup" => self.create_group(call).await,
            "AWS::IAM::Role" => self.create_role(call).await,
            "AWS::IAM::Policy" => self.put_inline_policy(call, None).await,
            "AWS::IAM::ManagedPolicy" => self.create_managed_policy(call).await,
            "AWS::IAM::InstanceProfile" => self.create_instance_profile(call).await,
            "AWS::SSM::Parameter" => self.put_parameter(call, None).await,
            other => Err(ResourceFailure(format!("Unrecognized resource type {other}"))),
        }
    }

    async fn update(
        &self,
        call: &ResourceRequest<'_>,
        previous: &Value,
    ) -> Result<Option<Provisioned>, ResourceFailure> {
        let changed = |key: &str| call.properties.get(key) != previous.get(key);
        match call.kind {
            "AWS::IAM::Role"
                if !changed("RoleName")
                    && !changed("Path")
                    && !changed("Description")
                    && !changed("MaxSessionDuration") =>
            {
                self.update_role(call, previous).await.map(Some)
            }
            "AWS::IAM::Policy" => self.put_inline_policy(call, Some(previous)).await.map(Some),
            "AWS::EC2::LaunchTemplate" => self.update_launch_template(call, previous).await,
            "AWS::AutoScaling::AutoScalingGroup" => self.update_group(call, previous).await,
            "AWS::IAM::InstanceProfile" if !changed("InstanceProfileName") && !changed("Path") => {
                self.update_instance_profile(call, previous).await.map(Some)
            }
            "AWS::SSM::Parameter" if !changed("Name") && !changed("Tags") => {
                self.put_parameter(call, Some(previous)).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn delete(&self, call: &ResourceRequest<'_>) -> Result<(), ResourceFailure> {
        let Some(physical_id) = call.physical_id else { return Ok(()) };
        match call.kind {
            "AWS::EC2::KeyPair" => self.delete_key_pair(call, physical_id).await,
            "AWS::EC2::Instance" => self.delete_instance(call, physical_id).await,
            "AWS::EC2::SecurityGroup" => {
                let outcome = self
                    .query::<ec2_groups::DeleteSecurityGroup>(
                        call,
                        Service::Ec2,
                        params([("GroupId", physical_id.to_owned())]),
                    )
                    .await;
                gone_ok(outcome, &["InvalidGroup.NotFound"])
            }
            "AWS::EC2::LaunchTemplate" => self.delete_launch_template(call, physical_id).await,
            "AWS::AutoScaling::AutoScalingGroup" => self.delete_group(call, physical_id).await,
            "AWS::IAM::Role" => self.delete_role(call, physical_id).await,
            "AWS::IAM::Policy" => self.delete_inline_policy(call, call.properties).await,
            "AWS::IAM::ManagedPolicy" => self.delete_managed_policy(call, physical_id).await,
            "AWS::IAM::InstanceProfile" => {
                let props = Props::stored(call, call.properties);
                self.set_profile_roles(call, physical_id, &props.strings("Roles"), &[]).await?;
                let pairs = params([("InstanceProfileName", physical_id.to_owned())]);
                let outcome = self.query::<iam_profiles::DeleteInstanceProfile>(call, Service::Iam, pairs).await;
                gone_ok(outcome, &["NoSuchEntity"])
            }
            "AWS::SSM::Parameter" => {
                let body = Map::from_iter([("Name".to_owned(), json!(physical_id))]);
                gone_ok(self.json::<ssm_parameters::DeleteParameter>(call, body).await, &["ParameterNotFound"])
            }
            _ => Ok(()),
        }
    }

    async fn parameter_values(
        &self,
        scope: &Scope,
        acting: &Acting,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, ResourceFailure> {
        let none = Map::new();
        let call = ResourceRequest {
            scope,
            acting,
            stack_name: "",
            stack_id: "",
            logical_id: "",
            kind: "",
            properties: &Value::Null,
            physical_id: None,
            attributes: &none,
            tags: &[],
            token: "",
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        // GetParameters takes at most 10 names.
        for batch in names.chunks(10) {
            let body = Map::from_iter([("Names".to_owned(), json!(batch))]);
            let (got, absent) = self
                .json::<ssm_parameters::GetParameters>(&call, body)
                .await
                .map_err(|e| ResourceFailure(e.message))?;
            found.extend(got);
            missing.extend(absent);
        }
        let secure: Vec<&str> = found
            .iter()
            .filter(|p| p.kind == crate::store::ParameterType::SecureString)
            .map(|p| p.name.as_str())
            .collect();
        if !secure.is_empty() {
            return Err(ResourceFailure(format!(
                "Parameters [{}] referenced by template have types not supported by CloudFormation.",
                secure.join(",")
            )));
        }
        if let Some(unsafe_value) = found.iter().find(|p| !p.value.chars().all(crate::common::wire::xml_safe)) {
            return Err(ResourceFailure(format!(
                "Parameter {} has a value CloudFormation cannot use.",
                unsafe_value.name
            )));
        }
        if !missing.is_empty() {
            return Err(ResourceFailure(format!(
                "Unable to fetch parameters [{}] from parameter store for this account.",
                missing.join(",")
            )));
        }
        Ok(found.into_iter().map(|p| (p.name.clone(), p.value.to_string())).collect())
    }
}

impl Handlers {
    /// A key pair; a created one's private key goes to `/ec2/keypair/<id>` as a SecureString.
    async fn create_key_pair(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &["KeyName", "KeyType", "KeyFormat", "PublicKeyMaterial", "Tags"])?;
        let name = props.required("KeyName")?;
        let mut pairs = params([("KeyName", name.clone())]);
        // Key pairs do not take CloudFormation's stack tags (their schema opts out).
        pairs.extend(tag_specification("key-pair", &props.tags()?, &[]));
        if let Some(material) = props.text("PublicKeyMaterial") {
            pairs.push(("PublicKeyMaterial".to_owned(), base64::engine::general_purpose::STANDARD.encode(material)));
            let info =
                self.query::<ec2_keys::ImportKeyPair>(call, Service::Ec2, pairs).await.map_err(|e| failure(&e))?;
            let attrs = attributes(&[("KeyPairId", json!(info.id)), ("KeyFingerprint", json!(info.fingerprint))]);
            return Ok(Provisioned { physical_id: name, attributes: attrs });
        }
        for key in ["KeyType", "KeyFormat"] {
            if let Some(value) = props.text(key) {
                pairs.push((key.to_owned(), value));
            }
        }
        let created =
            self.query::<ec2_keys::CreateKeyPair>(call, Service::Ec2, pairs).await.map_err(|e| failure(&e))?;
        let id = created.info.id.clone();
        let body = Map::from_iter([
            ("Name".to_owned(), json!(format!("/ec2/keypair/{id}"))),
            ("Value".to_owned(), Value::String(created.material.to_string())),
            ("Type".to_owned(), json!("SecureString")),
            ("Overwrite".to_owned(), json!(true)),
        ]);
        if let Err(e) = self.json::<ssm_parameters::PutParameter>(call, body).await {
            // Without its parameter the private key is lost: the key pair goes too.
            let _ = self.query::<ec2_keys::DeleteKeyPair>(call, Service::Ec2, params([("KeyName", name)])).await;
            return Err(failure(&e));
        }
        let attrs = attributes(&[("KeyPairId", json!(id)), ("KeyFingerprint", json!(created.info.fingerprint))]);
        Ok(Provisioned { physical_id: name, attributes: attrs })
    }

    async fn delete_key_pair(&self, call: &ResourceRequest<'_>, name: &str) -> Result<(), ResourceFailure> {
        let id = self.key_pair_id(call);
        if let Some(id) = id {
            let body = Map::from_iter([("Name".to_owned(), json!(format!("/ec2/keypair/{id}")))]);
            gone_ok(self.json::<ssm_parameters::DeleteParameter>(call, body).await, &["ParameterNotFound"])?;
        }
        let outcome =
            self.query::<ec2_keys::DeleteKeyPair>(call, Service::Ec2, params([("KeyName", name.to_owned())])).await;
        gone_ok(outcome, &["InvalidKeyPair.NotFound"])
    }

    /// The key pair's id, from its `KeyPairId` attribute.
    fn key_pair_id(&self, call: &ResourceRequest<'_>) -> Option<String> {
        call.attributes.get("KeyPairId").map(text_of)
    }

    async fn create_instance(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(
            call,
            &[
                "ImageId",
                "InstanceType",
                "KeyName",
                "SecurityGroupIds",
                "SecurityGroups",
                "SubnetId",
                "UserData",
                "AvailabilityZone",
                "Tags",
                "LaunchTemplate",
            ],
        )?;
        let mut pairs = params([
            ("MinCount", "1".to_owned()),
            ("MaxCount", "1".to_owned()),
            ("ClientToken", call.token.to_owned()),
        ]);
        match props.map.get("LaunchTemplate") {
            // The template may give the image; without one the instance needs its own.
            Some(Value::Object(spec)) => {
                for key in ["LaunchTemplateId", "LaunchTemplateName", "Version"] {
                    if let Some(value) = spec.get(key).filter(|v| !v.is_null()) {
                        pairs.push((format!("LaunchTemplate.{key}"), text_of(value)));
                    }
                }
                if let Some(image) = props.text("ImageId") {
                    pairs.push(("ImageId".to_owned(), image));
                }
            }
            Some(_) => return Err(props.invalid("#/LaunchTemplate: expected type: JSONObject".into())),
            None => pairs.push(("ImageId".to_owned(), props.required("ImageId")?)),
        }
        for (key, param) in [
            ("InstanceType", "InstanceType"),
            ("KeyName", "KeyName"),
            ("SubnetId", "SubnetId"),
            ("UserData", "UserData"),
            ("AvailabilityZone", "Placement.AvailabilityZone"),
        ] {
            if let Some(value) = props.text(key) {
                pairs.push((param.to_owned(), value));
            }
        }
        for (n, id) in props.strings("SecurityGroupIds").into_iter().enumerate() {
            pairs.push((format!("SecurityGroupId.{}", n + 1), id));
        }
        for (n, name) in props.strings("SecurityGroups").into_iter().enumerate() {
            pairs.push((format!("SecurityGroup.{}", n + 1), name));
        }
        pairs.extend(tag_specification("instance", &props.tags()?, call.tags));
        let (_, rows, _) =
            self.query::<ec2_instances::RunInstances>(call, Service::Ec2, pairs).await.map_err(|e| failure(&e))?;
        let id = rows
            .first()
            .map(|r| r.id.clone())
            .ok_or_else(|| ResourceFailure("RunInstances launched nothing".into()))?;
        let running = match self.wait_for_instance(call, &id, InstanceState::Running).await {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(ResourceFailure(format!("Instance {id} failed to stabilize"))),
            Err(e) => Err(e),
        };
        // An instance that never ran is not left behind: its id was never the resource's.
        let row = match running {
            Ok(row) => row,
            Err(e) => {
                let _ = self.delete_instance(call, &id).await;
                return Err(e);
            }
        };
        let region = &call.scope.region;
        let zone = crate::service::network::zone_of(region, &row.address).map(|z| z.name).unwrap_or_default();
        let attrs = attributes(&[
            ("InstanceId", json!(row.id)),
            ("AvailabilityZone", json!(zone)),
            ("PrivateIp", json!(row.address)),
            ("PublicIp", json!(row.address)),
            ("PrivateDnsName", json!(crate::service::network::private_dns_name(region, &row.address))),
            ("PublicDnsName", json!(crate::service::network::public_dns_name(region, &row.address))),
            ("VpcId", json!(crate::service::network::vpc_id(call.scope))),
        ]);
        Ok(Provisioned { physical_id: row.id, attributes: attrs })
    }

    /// Waits until the instance is in `state` (its row), or gone or past it (`None`).
    async fn wait_for_instance(
        &self,
        call: &ResourceRequest<'_>,
        id: &str,
        state: InstanceState,
    ) -> Result<Option<crate::store::InstanceRow>, ResourceFailure> {
        let deadline = tokio::time::Instant::now() + INSTANCE_WAIT;
        let mut pause = Duration::from_millis(100);
        loop {
            let found = self
                .query::<ec2_instances::DescribeInstances>(
                    call,
                    Service::Ec2,
                    params([("InstanceId.1", id.to_owned())]),
                )
                .await;
            let row = match found {
                Ok((rows, ..)) => rows.into_iter().next(),
                Err(e) if e.code == "InvalidInstanceID.NotFound" => None,
                Err(e) => return Err(failure(&e)),
            };
            match row {
                Some(row) if row.state == state => return Ok(Some(row)),
                Some(row) if state == InstanceState::Running && matches!(row.state, InstanceState::Pending) => {}
                Some(row) if state == InstanceState::Terminated && row.state != InstanceState::Terminated => {}
                _ => return Ok(None),
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ResourceFailure(format!("Instance {id} did not stabilize in time")));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn delete_instance(&self, call: &ResourceRequest<'_>, id: &str) -> Result<(), ResourceFailure> {
        let outcome = self
            .query::<ec2_instances::Transition<ec2_instances::Terminate>>(
                call,
                Service::Ec2,
                params([("InstanceId.1", id.to_owned())]),
            )
            .await;
        gone_ok(outcome, &["InvalidInstanceID.NotFound"])?;
        self.wait_for_instance(call, id, InstanceState::Terminated).await.map(drop)
    }

    async fn create_security_group(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(
            call,
            &["GroupName", "GroupDescription", "VpcId", "SecurityGroupIngress", "SecurityGroupEgress", "Tags"],
        )?;
        let name = props.text("GroupName").unwrap_or_else(|| call.generated_name(255));
        let mut pairs = params([("GroupName", name), ("GroupDescription", props.required("GroupDescription")?)]);
        if let Some(vpc) = props.text("VpcId") {
            pairs.push(("VpcId".to_owned(), vpc));
        }
        pairs.extend(tag_specification("security-group", &props.tags()?, call.tags));
        let group =
            self.query::<ec2_groups::CreateSecurityGroup>(call, Service::Ec2, pairs).await.map_err(|e| failure(&e))?;
        let made = Provisioned {
            physical_id: group.id.clone(),
            attributes: attributes(&[
                ("GroupId", json!(group.id)),
                ("VpcId", json!(crate::service::network::vpc_id(call.scope))),
            ]),
        };
        let rules = self.authorize_rules(call, &group.id, &props).await;
        if let Err(e) = rules {
            let _ = self
                .query::<ec2_groups::DeleteSecurityGroup>(call, Service::Ec2, params([("GroupId", group.id)]))
                .await;
            return Err(e);
        }
        Ok(made)
    }

    async fn authorize_rules(
        &self,
        call: &ResourceRequest<'_>,
        group: &str,
        props: &Props<'_>,
    ) -> Result<(), ResourceFailure> {
        for (key, egress) in [("SecurityGroupIngress", false), ("SecurityGroupEgress", true)] {
            let rules = props.list(key);
            if rules.is_empty() {
                continue;
            }
            let peer = if egress { "DestinationSecurityGroupId" } else { "SourceSecurityGroupId" };
            let known = ["IpProtocol", "FromPort", "ToPort", "CidrIp", "Description", peer];
            let mut pairs = params([("GroupId", group.to_owned())]);
            for (n, rule) in rules.iter().enumerate() {
                let Some(members) = rule.as_object() else {
                    return Err(props.invalid(format!("#/{key}/{n}: expected type: JSONObject")));
                };
                if let Some(extra) = members.keys().find(|k| !known.contains(&k.as_str())) {
                    // CidrIpv6, prefix lists and group names: refused rather than dropped.
                    return Err(props.invalid(format!("#/{key}/{n}: extraneous key [{extra}] is not permitted")));
                }
                let field = |name: &str| rule.get(name).filter(|v| !v.is_null()).map(text_of);
                let prefix = format!("IpPermissions.{}", n + 1);
                let mut put = |name: &str, value: Option<String>| {
                    if let Some(value) = value {
                        pairs.push((format!("{prefix}.{name}"), value));
                    }
                };
                put("IpProtocol", field("IpProtocol"));
                put("FromPort", field("FromPort"));
                put("ToPort", field("ToPort"));
                put("IpRanges.1.CidrIp", field("CidrIp"));
                put("IpRanges.1.Description", field("CidrIp").and(field("Description")));
                put("UserIdGroupPairs.1.GroupId", field(peer));
                put("UserIdGroupPairs.1.Description", field(peer).and(field("Description")));
            }
            let outcome = if egress {
                self.query::<ec2_groups::Authorize<ec2_groups::Egress>>(call, Service::Ec2, pairs).await.map(drop)
            } else {
                self.query::<ec2_groups::Authorize<ec2_groups::Ingress>>(call, Service::Ec2, pairs).await.map(drop)
            };
            outcome.map_err(|e| failure(&e))?;
        }
        Ok(())
    }

    async fn create_role(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(
            call,
            &[
                "RoleName",
                "AssumeRolePolicyDocument",
                "Path",
                "Description",
                "MaxSessionDuration",
                "Policies",
                "ManagedPolicyArns",
            ],
        )?;
        let name = props.text("RoleName").unwrap_or_else(|| call.generated_name(64));
        let mut pairs = params([
            ("RoleName", name.clone()),
            ("AssumeRolePolicyDocument", props.document("AssumeRolePolicyDocument")?),
        ]);
        for key in ["Path", "Description", "MaxSessionDuration"] {
            if let Some(value) = props.text(key) {
                pairs.push((key.to_owned(), value));
            }
        }
        let role = self.query::<iam_roles::CreateRole>(call, Service::Iam, pairs).await.map_err(|e| failure(&e))?;
        let made = Provisioned {
            physical_id: name.clone(),
            attributes: attributes(&[
                ("Arn", json!(format!("arn:aws:iam::{}:role{}{}", call.scope.account, role.path, role.name))),
                ("RoleId", json!(role.role_id)),
            ]),
        };
        if let Err(e) = self.attach_role_policies(call, &name, &props, None).await {
            let _ = self.delete_role(call, &name).await;
            return Err(e);
        }
        Ok(made)
    }

    /// Puts the role's inline policies and attaches its managed ones, removing those
    /// `previous` had that are gone.
    async fn attach_role_policies(
        &self,
        call: &ResourceRequest<'_>,
        role: &str,
        props: &Props<'_>,
        previous: Option<&Props<'_>>,
    ) -> Result<(), ResourceFailure> {
        let inline = |p: &Props<'_>| -> Result<Vec<(String, Value)>, ResourceFailure> {
            let entries = p.list("Policies");
            let mut found = Vec::with_capacity(entries.len());
            for (n, entry) in entries.iter().enumerate() {
                let member = |key: &str| {
                    entry.get(key).ok_or_else(|| p.invalid(format!("#/Policies/{n}: required key [{key}] not found")))
                };
                found.push((text_of(member("PolicyName")?), member("PolicyDocument")?.clone()));
            }
            Ok(found)
        };
        let now = inline(props)?;
        if let Some(previous) = previous {
            for (name, _) in inline(previous)?.iter().filter(|(n, _)| !now.iter().any(|(m, _)| m == n)) {
                let pairs = params([("RoleName", role.to_owned()), ("PolicyName", name.clone())]);
                gone_ok(self.query::<iam_roles::DeleteRolePolicy>(call, Service::Iam, pairs).await, &["NoSuchEntity"])?;
            }
            for arn in
                previous.strings("ManagedPolicyArns").iter().filter(|a| !props.strings("ManagedPolicyArns").contains(a))
            {
                let pairs = params([("RoleName", role.to_owned()), ("PolicyArn", arn.clone())]);
                let outcome = self.query::<iam_policies::Detach<iam_policies::ToRole>>(call, Service::Iam, pairs).await;
                gone_ok(outcome, &["NoSuchEntity"])?;
            }
        }
        for (name, document) in now {
            let document = match document {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let pairs = params([("RoleName", role.to_owned()), ("PolicyName", name), ("PolicyDocument", document)]);
            self.query::<iam_roles::PutRolePolicy>(call, Service::Iam, pairs).await.map_err(|e| failure(&e))?;
        }
        for arn in props.strings("ManagedPolicyArns") {
            let pairs = params([("RoleName", role.to_owned()), ("PolicyArn", arn)]);
            self.query::<iam_policies::Attach<iam_policies::ToRole>>(call, Service::Iam, pairs)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(())
    }

    async fn update_role(&self, call: &ResourceRequest<'_>, previous: &Value) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(
            call,
            &[
                "RoleName",
                "AssumeRolePolicyDocument",
                "Path",
                "Description",
                "MaxSessionDuration",
                "Policies",
                "ManagedPolicyArns",
            ],
        )?;
        let before = Props::stored(call, previous);
        let role = call.physical_id.unwrap_or_default().to_owned();
        if props.map.get("AssumeRolePolicyDocument") != before.map.get("AssumeRolePolicyDocument") {
            let pairs =
                params([("RoleName", role.clone()), ("PolicyDocument", props.document("AssumeRolePolicyDocument")?)]);
            self.query::<iam_roles::UpdateAssumeRolePolicy>(call, Service::Iam, pairs)
                .await
                .map_err(|e| failure(&e))?;
        }
        self.attach_role_policies(call, &role, &props, Some(&before)).await?;
        let found = self
            .query::<iam_roles::GetRole>(call, Service::Iam, params([("RoleName", role.clone())]))
            .await
            .map_err(|e| failure(&e))?;
        Ok(Provisioned {
            physical_id: role,
            attributes: attributes(&[
                ("Arn", json!(format!("arn:aws:iam::{}:role{}{}", call.scope.account, found.path, found.name))),
                ("RoleId", json!(found.role_id)),
            ]),
        })
    }

    async fn delete_role(&self, call: &ResourceRequest<'_>, role: &str) -> Result<(), ResourceFailure> {
        let props = Props::stored(call, call.properties);
        let nothing = Props::stored(call, &Value::Null);
        // Detaching and deleting what the role had is attaching "nothing" after it.
        self.attach_role_policies(call, role, &nothing, Some(&props)).await?;
        let outcome =
            self.query::<iam_roles::DeleteRole>(call, Service::Iam, params([("RoleName", role.to_owned())])).await;
        gone_ok(outcome, &["NoSuchEntity"])
    }

    /// `AWS::IAM::Policy`: one inline policy put on each of its roles and users; on update,
    /// taken off those it no longer names first.
    async fn put_inline_policy(
        &self,
        call: &ResourceRequest<'_>,
        previous: Option<&Value>,
    ) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &["PolicyName", "PolicyDocument", "Roles", "Users"])?;
        let name = props.required("PolicyName")?;
        let document = props.document("PolicyDocument")?;
        let (roles, users) = (props.strings("Roles"), props.strings("Users"));
        if roles.is_empty() && users.is_empty() {
            return Err(props.invalid("At least one of [Groups,Roles,Users] must be non-empty.".into()));
        }
        if let Some(previous) = previous {
            let mut stale = previous.clone();
            if let Some(map) = stale.as_object_mut() {
                let keep_name = map.get("PolicyName") == Some(&json!(name));
                for (key, now) in [("Roles", &roles), ("Users", &users)] {
                    let before: Vec<Value> = map.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
                    let gone: Vec<Value> =
                        before.into_iter().filter(|v| !keep_name || !now.contains(&text_of(v))).collect();
                    map.insert(key.to_owned(), Value::Array(gone));
                }
            }
            self.delete_inline_policy(call, &stale).await?;
        }
        for role in roles {
            let pairs =
                params([("RoleName", role), ("PolicyName", name.clone()), ("PolicyDocument", document.clone())]);
            self.query::<iam_roles::PutRolePolicy>(call, Service::Iam, pairs).await.map_err(|e| failure(&e))?;
        }
        for user in users {
            let pairs =
                params([("UserName", user), ("PolicyName", name.clone()), ("PolicyDocument", document.clone())]);
            self.query::<iam_api::PutUserPolicy>(call, Service::Iam, pairs).await.map_err(|e| failure(&e))?;
        }
        let physical_id = call.physical_id.map_or_else(|| call.generated_name(32), str::to_owned);
        Ok(Provisioned { physical_id: physical_id.clone(), attributes: attributes(&[("Id", json!(physical_id))]) })
    }

    async fn delete_inline_policy(
        &self,
        call: &ResourceRequest<'_>,
        properties: &Value,
    ) -> Result<(), ResourceFailure> {
        let props = Props::stored(call, properties);
        let Some(name) = props.text("PolicyName") else { return Ok(()) };
        for role in props.strings("Roles") {
            let pairs = params([("RoleName", role), ("PolicyName", name.clone())]);
            gone_ok(self.query::<iam_roles::DeleteRolePolicy>(call, Service::Iam, pairs).await, &["NoSuchEntity"])?;
        }
        for user in props.strings("Users") {
            let pairs = params([("UserName", user), ("PolicyName", name.clone())]);
            gone_ok(self.query::<iam_api::DeleteUserPolicy>(call, Service::Iam, pairs).await, &["NoSuchEntity"])?;
        }
        Ok(())
    }

    async fn create_managed_policy(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &["ManagedPolicyName", "PolicyDocument", "Path", "Description", "Roles", "Users"])?;
        let name = props.text("ManagedPolicyName").unwrap_or_else(|| call.generated_name(128));
        let mut pairs = params([("PolicyName", name), ("PolicyDocument", props.document("PolicyDocument")?)]);
        for key in ["Path", "Description"] {
            if let Some(value) = props.text(key) {
                pairs.push((key.to_owned(), value));
            }
        }
        let policy =
            self.query::<iam_policies::CreatePolicy>(call, Service::Iam, pairs).await.map_err(|e| failure(&e))?;
        let ManagedPolicy::Local(row) = policy else {
            return Err(ResourceFailure("CreatePolicy made no customer managed policy".into()));
        };
        let arn = row.arn.clone();
        let made = Provisioned {
            physical_id: arn.clone(),
            attributes: attributes(&[
                ("PolicyArn", json!(arn)),
                ("PolicyId", json!(row.policy_id)),
                ("DefaultVersionId", json!(format!("v{}", row.default_version))),
                ("IsAttachable", json!("true")),
                ("CreateDate", json!(crate::common::time::iso8601(row.created_ms))),
                ("UpdateDate", json!(crate::common::time::iso8601(row.created_ms))),
            ]),
        };
        let attached = self.attach_managed(call, &arn, &props).await;
        if let Err(e) = attached {
            let _ = self.delete_managed_policy(call, &arn).await;
            return Err(e);
        }
        Ok(made)
    }

    async fn attach_managed(
        &self,
        call: &ResourceRequest<'_>,
        arn: &str,
        props: &Props<'_>,
    ) -> Result<(), ResourceFailure> {
        for role in props.strings("Roles") {
            let pairs = params([("RoleName", role), ("PolicyArn", arn.to_owned())]);
            self.query::<iam_policies::Attach<iam_policies::ToRole>>(call, Service::Iam, pairs)
                .await
                .map_err(|e| failure(&e))?;
        }
        for user in props.strings("Users") {
            let pairs = params([("UserName", user), ("PolicyArn", arn.to_owned())]);
            self.query::<iam_policies::Attach<iam_policies::ToUser>>(call, Service::Iam, pairs)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(())
    }

    async fn delete_managed_policy(&self, call: &ResourceRequest<'_>, arn: &str) -> Result<(), ResourceFailure> {
        let props = Props::stored(call, call.properties);
        for role in props.strings("Roles") {
            let pairs = params([("RoleName", role), ("PolicyArn", arn.to_owned())]);
            let outcome = self.query::<iam_policies::Detach<iam_policies::ToRole>>(call, Service::Iam, pairs).await;
            gone_ok(outcome, &["NoSuchEntity"])?;
        }
        for user in props.strings("Users") {
            let pairs = params([("UserName", user), ("PolicyArn", arn.to_owned())]);
            let outcome = self.query::<iam_policies::Detach<iam_policies::ToUser>>(call, Service::Iam, pairs).await;
            gone_ok(outcome, &["NoSuchEntity"])?;
        }
        let versions = self
            .query::<iam_policies::ListPolicyVersions>(call, Service::Iam, params([("PolicyArn", arn.to_owned())]))
            .await;
        if let Ok((versions, _)) = versions {
            for version in versions.into_iter().filter(|v| !v.is_default) {
                let pairs = params([("PolicyArn", arn.to_owned()), ("VersionId", version.id)]);
                let outcome = self.query::<iam_policies::DeletePolicyVersion>(call, Service::Iam, pairs).await;
                gone_ok(outcome, &["NoSuchEntity"])?;
            }
        }
        let outcome =
            self.query::<iam_policies::DeletePolicy>(call, Service::Iam, params([("PolicyArn", arn.to_owned())])).await;
        gone_ok(outcome, &["NoSuchEntity"])
    }

    /// `AWS::IAM::InstanceProfile`: the profile, then its one role.
    async fn create_instance_profile(&self, call: &ResourceRequest<'_>) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &["InstanceProfileName", "Path", "Roles"])?;
        let roles = props.strings("Roles");
        if roles.len() != 1 {
            return Err(props.invalid("#/Roles: expected exactly one role".into()));
        }
        let name = props.text("InstanceProfileName").unwrap_or_else(|| call.generated_name(128));
        let mut pairs = params([("InstanceProfileName", name.clone())]);
        if let Some(path) = props.text("Path") {
            pairs.push(("Path".to_owned(), path));
        }
        let profile = self
            .query::<iam_profiles::CreateInstanceProfile>(call, Service::Iam, pairs)
            .await
            .map_err(|e| failure(&e))?;
        if let Err(e) = self.set_profile_roles(call, &name, &[], &roles).await {
            let pairs = params([("InstanceProfileName", name)]);
            let _ = self.query::<iam_profiles::DeleteInstanceProfile>(call, Service::Iam, pairs).await;
            return Err(e);
        }
        let arn = iam_profiles::profile_arn(&call.scope.account, &profile);
        Ok(Provisioned { physical_id: name, attributes: attributes(&[("Arn", json!(arn))]) })
    }

    async fn update_instance_profile(
        &self,
        call: &ResourceRequest<'_>,
        previous: &Value,
    ) -> Result<Provisioned, ResourceFailure> {
        let props = Props::of(call, &["InstanceProfileName", "Path", "Roles"])?;
        let before = Props::stored(call, previous);
        let name = call.physical_id.unwrap_or_default().to_owned();
        if props.strings("Roles").len() != 1 {
            return Err(props.invalid("#/Roles: expected exactly one role".into()));
        }
        self.set_profile_roles(call, &name, &before.strings("Roles"), &props.strings("Roles")).await?;
        let (profile, _) = self
            .query::<iam_profiles::GetInstanceProfile>(
                call,
                Service::Iam,
                params([("InstanceProfileName", name.clone())]),
            )
            .await
            .map_err(|e| failure(&e))?;
        let arn = iam_profiles::profile_arn(&call.scope.account, &profile);
        Ok(Provisioned { physical_id: name, attributes: attributes(&[("Arn", json!(arn))]) })
    }

    /// Takes the roles in `from` but not in `to` out of the profile, and puts the others in.
    async fn set_profile_roles(
        &self,
        call: &ResourceRequest<'_>,
        profile: &str,
        from: &[String],
        to: &[String],
    ) -> Result<(), ResourceFailure> {
        for role in from.iter().filter(|r| !to.contains(r)) {
            let pairs = params([("InstanceProfileName", profile.to_owned()), ("RoleName", role.clone())]);
            let outcome = self.query::<iam_profiles::RemoveRoleFromInstanceProfile>(call, Service::Iam, pairs).await;
            gone_ok(outcome, &["NoSuchEntity"])?;
        }
        for role in to.iter().filter(|r| !from.contains(r)) {
            let pairs = params([("InstanceProfileName", profile.to_owned()), ("RoleName", role.clone())]);
            self.query::<iam_profiles::AddRoleToInstanceProfile>(call, Service::Iam, pairs)
                .await
                .map_err(|e| failure(&e))?;
        }
        Ok(())
    }

    /// `AWS::SSM::Parameter`: String or StringList only, as CloudFormation allows.
    async fn put_parameter(
        &self,
        call: &ResourceRequest<'_>,
        previous: Option<&Value>,
    ) -> Result<Provisioned, ResourceFailure> {
        let props =
            Props::of(call, &["Name", "Type", "Value", "Description", "AllowedPattern", "Tier", "DataType", "Tags"])?;
        let kind = props.required("Type")?;
        if kind != "String" && kind != "StringList" {
            return Err(props.invalid("#/Type: failed validation constraint for keyword [enum]".into()));
        }
        let value = props.required("Value")?;
        let name = match call.physical_id {
            Some(name) => name.to_owned(),
            None => props.text("Name").unwrap_or_else(|| {
                format!("CFN-{}", call.generated_name(2048).split_once('-').map_or("", |(_, rest)| rest))
            }),
        };
        let mut body = Map::from_iter([
            ("Name".to_owned(), json!(name)),
            ("Type".to_owned(), json!(kind)),
            ("Value".to_owned(), json!(value)),
        ]);
        for key in ["Description", "AllowedPattern", "Tier", "DataType"] {
            if let Some(text) = props.text(key) {
                body.insert(key.to_owned(), json!(text));
            }
        }
        if previous.is_some() {
            body.insert("Overwrite".to_owned(), json!(true));
        } else if let Some(Value::Object(tags)) = props.map.get("Tags") {
            let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"Key": k, "Value": text_of(v)})).collect();
            body.insert("Tags".to_owned(), Value::Array(tags));
        }
        self.json::<ssm_parameters::PutParameter>(call, body).await.map_err(|e| failure(&e))?;
        Ok(Provisioned { physical_id: name, attributes: attributes(&[("Type", json!(kind)), ("Value", json!(value))]) })
    }
}
