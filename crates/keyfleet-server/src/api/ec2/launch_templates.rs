//! Wire side of the launch template actions (shapes: docs/aws-facts.md, "Launch templates").

use super::{Paging, page, refuse_unimplemented};
use crate::api::authorize::Target;
use crate::api::error::ApiError;
use crate::api::operation::{Authorization, Ec2Query, Operation};
use crate::api::protocol::ec2_query::{self, Accepted, QueryParams, timestamp};
use crate::api::protocol::xml::XmlWriter;
use crate::api::{Context, Reply};
use crate::common::page::Limits;
use crate::common::page::Page;
use crate::service::launch_templates::{
    self as service, NewTemplate, NewVersion, TemplateRef, Version, VersionQuery, VersionSpec,
};
use crate::store::{HttpTokens, LaunchTemplateData, LaunchTemplateRow, VersionDeletion, WireName};

/// DescribeLaunchTemplates takes 1–200 a page (the model's range); DescribeLaunchTemplateVersions
/// is documented with the same.
const TEMPLATE_PAGES: Paging =
    Paging { ids: "", limits: Limits { min: 1, max: 200, default: None, cuts_larger: false } };
const VERSION_PAGES: Paging = TEMPLATE_PAGES;

/// Where a request's `LaunchTemplateData` members are, and which keyfleet honours.
const DATA: &str = "LaunchTemplateData";
const DATA_PARAMETERS: [Accepted; 13] = [
    Accepted::any("LaunchTemplateData.ImageId"),
    Accepted::any("LaunchTemplateData.InstanceType"),
    Accepted::any("LaunchTemplateData.KeyName"),
    Accepted::any("LaunchTemplateData.UserData"),
    Accepted::any("LaunchTemplateData.SecurityGroupId.N"),
    Accepted::any("LaunchTemplateData.SecurityGroup.N"),
    Accepted::any("LaunchTemplateData.TagSpecification.N.ResourceType"),
    Accepted::any("LaunchTemplateData.TagSpecification.N.Tag.N.Key"),
    Accepted::any("LaunchTemplateData.TagSpecification.N.Tag.N.Value"),
    Accepted::any("LaunchTemplateData.MetadataOptions.HttpTokens"),
    Accepted::only("LaunchTemplateData.MetadataOptions.HttpEndpoint", &["enabled"]),
    Accepted::only("LaunchTemplateData.MetadataOptions.HttpProtocolIpv6", &["disabled"]),
    Accepted::only("LaunchTemplateData.MetadataOptions.InstanceMetadataTags", &["disabled"]),
];

/// `LaunchTemplateData.*` as a version keeps it.
fn template_data(p: &QueryParams) -> Result<LaunchTemplateData, ApiError> {
    let field = |name: &str| p.get(&format!("{DATA}.{name}")).filter(|v| !v.is_empty()).map(str::to_owned);
    let http_tokens = match p.get(&format!("{DATA}.MetadataOptions.HttpTokens")) {
        None => None,
        Some(value) => Some(HttpTokens::parse(value).ok_or_else(|| {
            ApiError::invalid_parameter_value(format!(
                "The value '{value}' is not valid for the parameter HttpTokens. Valid values: optional, required."
            ))
        })?),
    };
    Ok(LaunchTemplateData {
        image_id: field("ImageId"),
        instance_type: field("InstanceType"),
        key_name: field("KeyName"),
        user_data: field("UserData"),
        security_group_ids: p.list(&format!("{DATA}.SecurityGroupId")),
        security_groups: p.list(&format!("{DATA}.SecurityGroup")),
        tag_specifications: service::launch_tags(&p.tag_specifications_at(&format!("{DATA}.TagSpecification")))?,
        http_tokens,
    })
}

/// `LaunchTemplateId` or `LaunchTemplateName`, exactly one.
fn template_ref(p: &QueryParams) -> Result<TemplateRef, ApiError> {
    Ok(TemplateRef::from_parts(p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))?)
}

/// The template's target, on its id whichever way the request names it, so that a policy
/// on the id holds for the name too. One that does not exist is left to the call's NotFound.
pub(super) async fn template_target(ctx: &Context<'_>, template: &TemplateRef) -> Result<Target, ApiError> {
    let id = match template {
        TemplateRef::Id(id) => Some(id.clone()),
        TemplateRef::Name(_) => ctx.state.launch_templates.find(&ctx.scope, template).await.ok().map(|t| t.id),
    };
    let tags = match (&id, ctx.unrestricted()) {
        (Some(id), false) => {
            let found = ctx.state.launch_templates.describe(&ctx.scope, std::slice::from_ref(id), &[], &[]).await;
            found.ok().and_then(|mut t| t.pop()).map(|t| t.tags).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok(Target::launch_template(&ctx.scope, id.as_deref().unwrap_or("*")).with_resource_tags(&tags))
}

pub(crate) struct CreateLaunchTemplate;

impl Operation for CreateLaunchTemplate {
    type Protocol = Ec2Query;
    const NAME: &'static str = "CreateLaunchTemplate";
    const ACTION: &'static str = "ec2:CreateLaunchTemplate";
    const READ_ONLY: bool = false;
    type Input = NewTemplate;
    type Output = service::Template;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted: Vec<Accepted> = [
            Accepted::any("LaunchTemplateName"),
            Accepted::any("VersionDescription"),
            Accepted::any("ClientToken"),
            Accepted::any("TagSpecification.N.ResourceType"),
            Accepted::any("TagSpecification.N.Tag.N.Key"),
            Accepted::any("TagSpecification.N.Tag.N.Value"),
        ]
        .into_iter()
        .chain(DATA_PARAMETERS)
        .collect();
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(NewTemplate {
            name: p.required("LaunchTemplateName")?.to_owned(),
            description: p.get("VersionDescription").map(str::to_owned),
            data: template_data(p)?,
            tag_specifications: p.tag_specifications(),
            client_token: super::instances::client_token_of(p, 128)?,
        })
    }

    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        let tags = super::targets::requested_tags(&input.tag_specifications, "launch-template");
        let target = Target::launch_template(&ctx.scope, "*").with_request_tags(&tags);
        let authorization = Authorization::on_one(target.clone());
        if tags.is_empty() {
            return Ok(authorization);
        }
        Ok(authorization.and_as("ec2:CreateTags", vec![target.with_key("ec2:CreateAction", Self::NAME)]))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.launch_templates.create(&ctx.scope, &ctx.principal.actor.arn(), input).await?)
    }

    fn encode(ctx: &Context<'_>, template: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 512, |w| {
            template_element(w, "launchTemplate", &template.row, &template.tags);
        })
    }

    fn created(template: &Self::Output) -> Vec<(&'static str, String)> {
        vec![("AWS::EC2::LaunchTemplate", template.row.id.clone())]
    }
}

pub(crate) struct CreateLaunchTemplateVersion;

impl Operation for CreateLaunchTemplateVersion {
    type Protocol = Ec2Query;
    const NAME: &'static str = "CreateLaunchTemplateVersion";
    const ACTION: &'static str = "ec2:CreateLaunchTemplateVersion";
    const READ_ONLY: bool = false;
    type Input = NewVersion;
    type Output = Version;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        let accepted: Vec<Accepted> = [
            Accepted::any("LaunchTemplateId"),
            Accepted::any("LaunchTemplateName"),
            Accepted::any("VersionDescription"),
            Accepted::any("SourceVersion"),
            Accepted::any("ClientToken"),
            // Only the default (false): the data is returned as given.
            Accepted::only("ResolveAlias", &["false"]),
        ]
        .into_iter()
        .chain(DATA_PARAMETERS)
        .collect();
        refuse_unimplemented(p, Self::NAME, &accepted)?;
        Ok(NewVersion {
            template: template_ref(p)?,
            description: p.get("VersionDescription").map(str::to_owned),
            source: p.get("SourceVersion").map(VersionSpec::parse).transpose()?,
            data: template_data(p)?,
        })
    }

    async fn authorization(ctx: &Context<'_>, input: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(template_target(ctx, &input.template).await?))
    }

    async fn call(ctx: &Context<'_>, input: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.launch_templates.create_version(&ctx.scope, &ctx.principal.actor.arn(), input).await?)
    }

    fn encode(ctx: &Context<'_>, version: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 1024, |w| {
            version_element(w, "launchTemplateVersion", &version);
        })
    }
}

pub(crate) struct DescribeLaunchTemplates;

impl Operation for DescribeLaunchTemplates {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeLaunchTemplates";
    const ACTION: &'static str = "ec2:DescribeLaunchTemplates";
    const READ_ONLY: bool = true;
    /// Ids, names, filters and the page.
    type Input = (Vec<String>, Vec<String>, Vec<crate::service::filter::Filter>, Page);
    type Output = (Vec<service::Template>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(
            p,
            Self::NAME,
            &[
                Accepted::any("LaunchTemplateId.N"),
                Accepted::any("LaunchTemplateName.N"),
                Accepted::any("Filter.N.Name"),
                Accepted::any("Filter.N.Value.N"),
                Accepted::any("MaxResults"),
                Accepted::any("NextToken"),
            ],
        )?;
        let (ids, names) = (p.list("LaunchTemplateId"), p.list("LaunchTemplateName"));
        let page = page(p, false, &TEMPLATE_PAGES)?;
        Ok((ids, names, p.filters()?, page))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (ids, names, filters, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.launch_templates.describe(&ctx.scope, &ids, &names, &filters).await?))
    }

    fn encode(ctx: &Context<'_>, (templates, next): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, templates.len() * 400 + 128, |w| {
            w.start("launchTemplates");
            for template in &templates {
                template_element(w, "item", &template.row, &template.tags);
            }
            w.end("launchTemplates");
            if let Some(token) = &next {
                w.text("nextToken", token);
            }
        })
    }
}

pub(crate) struct DescribeLaunchTemplateVersions;

impl Operation for DescribeLaunchTemplateVersions {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DescribeLaunchTemplateVersions";
    const ACTION: &'static str = "ec2:DescribeLaunchTemplateVersions";
    const READ_ONLY: bool = true;
    /// The template (none: every template's `$Latest` or `$Default`), the versions, the page.
    type Input = (Option<TemplateRef>, VersionQuery, Page);
    type Output = (Vec<Version>, Option<String>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(
            p,
            Self::NAME,
            &[
                Accepted::any("LaunchTemplateId"),
                Accepted::any("LaunchTemplateName"),
                Accepted::any("LaunchTemplateVersion.N"),
                Accepted::any("MinVersion"),
                Accepted::any("MaxVersion"),
                Accepted::any("Filter.N.Name"),
                Accepted::any("Filter.N.Value.N"),
                Accepted::any("MaxResults"),
                Accepted::any("NextToken"),
                Accepted::only("ResolveAlias", &["false"]),
            ],
        )?;
        let number = |name: &str| -> Result<Option<i64>, ApiError> {
            match p.get(name).map(VersionSpec::parse).transpose()? {
                None => Ok(None),
                Some(VersionSpec::Number(n)) => Ok(Some(n)),
                Some(_) => Err(ApiError::invalid_parameter_value(format!("{name} must be a version number"))),
            }
        };
        let query = VersionQuery {
            versions: p
                .list("LaunchTemplateVersion")
                .iter()
                .map(|v| VersionSpec::parse(v))
                .collect::<Result<_, _>>()?,
            min: number("MinVersion")?,
            max: number("MaxVersion")?,
            filters: p.filters()?,
        };
        let template = match (p.get("LaunchTemplateId"), p.get("LaunchTemplateName")) {
            (None, None) => None,
            _ => Some(template_ref(p)?),
        };
        Ok((template, query, page(p, false, &VERSION_PAGES)?))
    }

    async fn authorization(_: &Context<'_>, _: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::any())
    }

    async fn call(ctx: &Context<'_>, (template, query, page): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(page.take(ctx.state.launch_templates.versions(&ctx.scope, template.as_ref(), &query).await?))
    }

    fn encode(ctx: &Context<'_>, (versions, next): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, versions.len() * 1024 + 128, |w| {
            w.start("launchTemplateVersionSet");
            for version in &versions {
                version_element(w, "item", version);
            }
            w.end("launchTemplateVersionSet");
            if let Some(token) = &next {
                w.text("nextToken", token);
            }
        })
    }
}

pub(crate) struct ModifyLaunchTemplate;

impl Operation for ModifyLaunchTemplate {
    type Protocol = Ec2Query;
    const NAME: &'static str = "ModifyLaunchTemplate";
    const ACTION: &'static str = "ec2:ModifyLaunchTemplate";
    const READ_ONLY: bool = false;
    type Input = (TemplateRef, VersionSpec);
    type Output = service::Template;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(
            p,
            Self::NAME,
            &[
                Accepted::any("LaunchTemplateId"),
                Accepted::any("LaunchTemplateName"),
                Accepted::any("SetDefaultVersion"),
                Accepted::any("ClientToken"),
            ],
        )?;
        let version = VersionSpec::parse(p.required("SetDefaultVersion")?)?;
        Ok((template_ref(p)?, version))
    }

    async fn authorization(ctx: &Context<'_>, (template, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(template_target(ctx, template).await?))
    }

    async fn call(ctx: &Context<'_>, (template, version): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.launch_templates.set_default(&ctx.scope, &template, version).await?)
    }

    fn encode(ctx: &Context<'_>, template: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 512, |w| {
            template_element(w, "launchTemplate", &template.row, &template.tags);
        })
    }
}

pub(crate) struct DeleteLaunchTemplate;

impl Operation for DeleteLaunchTemplate {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteLaunchTemplate";
    const ACTION: &'static str = "ec2:DeleteLaunchTemplate";
    const READ_ONLY: bool = false;
    type Input = TemplateRef;
    type Output = service::Template;

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(p, Self::NAME, &[Accepted::any("LaunchTemplateId"), Accepted::any("LaunchTemplateName")])?;
        template_ref(p)
    }

    async fn authorization(ctx: &Context<'_>, template: &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(template_target(ctx, template).await?))
    }

    async fn call(ctx: &Context<'_>, template: Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.launch_templates.delete(&ctx.scope, &template).await?)
    }

    fn encode(ctx: &Context<'_>, template: Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, 512, |w| {
            template_element(w, "launchTemplate", &template.row, &template.tags);
        })
    }
}

pub(crate) struct DeleteLaunchTemplateVersions;

impl Operation for DeleteLaunchTemplateVersions {
    type Protocol = Ec2Query;
    const NAME: &'static str = "DeleteLaunchTemplateVersions";
    const ACTION: &'static str = "ec2:DeleteLaunchTemplateVersions";
    const READ_ONLY: bool = false;
    type Input = (TemplateRef, Vec<String>);
    type Output = (LaunchTemplateRow, Vec<(String, VersionDeletion)>);

    fn decode(_: &Context<'_>, p: &QueryParams) -> Result<Self::Input, ApiError> {
        refuse_unimplemented(
            p,
            Self::NAME,
            &[
                Accepted::any("LaunchTemplateId"),
                Accepted::any("LaunchTemplateName"),
                Accepted::any("LaunchTemplateVersion.N"),
            ],
        )?;
        Ok((template_ref(p)?, p.list("LaunchTemplateVersion")))
    }

    async fn authorization(ctx: &Context<'_>, (template, _): &Self::Input) -> Result<Authorization, ApiError> {
        Ok(Authorization::on_one(template_target(ctx, template).await?))
    }

    async fn call(ctx: &Context<'_>, (template, versions): Self::Input) -> Result<Self::Output, ApiError> {
        Ok(ctx.state.launch_templates.delete_versions(&ctx.scope, &template, &versions).await?)
    }

    fn encode(ctx: &Context<'_>, (template, outcomes): Self::Output) -> Reply {
        ec2_query::success(Self::NAME, ctx.request_id, outcomes.len() * 300 + 256, |w| {
            let deleted = |o: &&(String, VersionDeletion)| o.1 == VersionDeletion::Deleted;
            let item = |w: &mut XmlWriter, version: &str| {
                w.text("launchTemplateId", &template.id)
                    .text("launchTemplateName", &template.name)
                    .text("versionNumber", version);
            };
            w.start("successfullyDeletedLaunchTemplateVersionSet");
            for (version, _) in outcomes.iter().filter(deleted) {
                w.start("item");
                item(w, version);
                w.end("item");
            }
            w.end("successfullyDeletedLaunchTemplateVersionSet");
            w.start("unsuccessfullyDeletedLaunchTemplateVersionSet");
            for (version, outcome) in outcomes.iter().filter(|o| !deleted(o)) {
                let (code, message) = version_deletion_error(*outcome, &template, version);
                w.start("item");
                item(w, version);
                w.start("responseError").text("code", code).text("message", &message).end("responseError");
                w.end("item");
            }
            w.end("unsuccessfullyDeletedLaunchTemplateVersionSet");
        })
    }
}

/// The `responseError` of a version DeleteLaunchTemplateVersions did not delete.
fn version_deletion_error(
    outcome: VersionDeletion,
    template: &LaunchTemplateRow,
    version: &str,
) -> (&'static str, String) {
    match outcome {
        VersionDeletion::IsDefault => {
            ("unexpectedError", "The default version of a launch template cannot be deleted.".to_owned())
        }
        VersionDeletion::NotFound | VersionDeletion::Deleted => (
            "launchTemplateVersionDoesNotExist",
            format!(
                "The specified launch template version {version} does not exist for launch template {}",
                template.id
            ),
        ),
    }
}

fn template_element(w: &mut XmlWriter, element: &str, row: &LaunchTemplateRow, tags: &[crate::store::Tag]) {
    w.start(element)
        .text("createTime", &timestamp(row.created_ms))
        .text("createdBy", &row.created_by)
        .text("defaultVersionNumber", &row.default_version.to_string())
        .text("latestVersionNumber", &row.latest_version.to_string())
        .text("launchTemplateId", &row.id)
        .text("launchTemplateName", &row.name);
    super::security_groups::tag_set(w, tags);
    w.end(element);
}

fn version_element(w: &mut XmlWriter, element: &str, v: &Version) {
    w.start(element)
        .text("createTime", &timestamp(v.version.created_ms))
        .text("createdBy", &v.version.created_by)
        .text("defaultVersion", if v.is_default() { "true" } else { "false" });
    data_element(w, &v.version.data);
    w.text("launchTemplateId", &v.template.id).text("launchTemplateName", &v.template.name);
    if let Some(description) = &v.version.description {
        w.text("versionDescription", description);
    }
    w.text("versionNumber", &v.version.version.to_string()).end(element);
}

fn data_element(w: &mut XmlWriter, data: &LaunchTemplateData) {
    w.start("launchTemplateData");
    let optional = |w: &mut XmlWriter, name: &str, value: &Option<String>| {
        if let Some(value) = value {
            w.text(name, value);
        }
    };
    optional(w, "imageId", &data.image_id);
    optional(w, "instanceType", &data.instance_type);
    optional(w, "keyName", &data.key_name);
    let list = |w: &mut XmlWriter, name: &str, items: &[String]| {
        if !items.is_empty() {
            w.start(name);
            for item in items {
                w.text("item", item);
            }
            w.end(name);
        }
    };
    list(w, "securityGroupIdSet", &data.security_group_ids);
    list(w, "securityGroupSet", &data.security_groups);
    if !data.tag_specifications.is_empty() {
        w.start("tagSpecificationSet");
        for spec in &data.tag_specifications {
            w.start("item").text("resourceType", &spec.resource_type).start("tagSet");
            for (key, value) in &spec.tags {
                w.start("item").text("key", key).text("value", value).end("item");
            }
            w.end("tagSet").end("item");
        }
        w.end("tagSpecificationSet");
    }
    optional(w, "userData", &data.user_data);
    if let Some(tokens) = data.http_tokens {
        w.start("metadataOptions").text("httpTokens", tokens.as_str()).end("metadataOptions");
    }
    w.end("launchTemplateData");
}
