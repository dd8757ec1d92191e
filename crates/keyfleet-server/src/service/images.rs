//! The built-in images (docs/aws-facts.md, "Images"): ids in AWS's form, owned by the
//! `amazon` alias as Amazon Linux is, and DescribeImages' owners, launch permissions and
//! filters over them.

use super::filter::{FilterField, Typed, all_match, typed};
use super::{Error, Result};
use crate::service::filter::Filter;

/// The images every account can launch.
pub const IMAGES: [Image; 1] = [Image {
    id: "ami-0f5e8a2b9c3d71e46",
    legacy_id: "ami-keyfleet-linux",
    name: "keyfleet-linux",
    description: "keyfleet built-in Linux: the host's /usr, read-only, in a sandbox; login ec2-user",
    root_gib: crate::runtime::disk::DEFAULT_ROOT_GIB,
}];

/// The account that owns the built-in images, as `amazon` owns Amazon Linux.
pub const IMAGE_OWNER_ID: &str = "000000000000";
/// Its alias.
pub const IMAGE_OWNER_ALIAS: &str = "amazon";
/// The built-in images' architecture.
pub const IMAGE_ARCHITECTURE: &str = "x86_64";
/// The one device of every instance: its root volume.
pub const ROOT_DEVICE: &str = "/dev/xvda";

/// A built-in image.
#[derive(Debug, Clone, Copy)]
pub struct Image {
    /// `ami-` and 17 hex digits.
    pub id: &'static str,
    /// The id keyfleet gave it before ids had AWS's form: still launched and described, as
    /// this image (scripts and instances from then name it).
    pub legacy_id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Its root snapshot's size, GiB: the smallest and the default root volume.
    pub root_gib: u32,
}

impl Image {
    /// Whether `id` names this image.
    fn answers_to(&self, id: &str) -> bool {
        id == self.id || id == self.legacy_id
    }
}

/// The image `id` names.
pub fn find(id: &str) -> Option<&'static Image> {
    IMAGES.iter().find(|i| i.answers_to(id))
}

/// `id` as the image's own id when it names a built-in image (its legacy id too), else as given.
pub fn canonical(id: &str) -> &str {
    find(id).map_or(id, |i| i.id)
}

/// Every id an instance's image answers filters by.
pub fn ids_of(id: &str) -> Vec<&str> {
    match find(id) {
        Some(image) => vec![image.id, image.legacy_id],
        None => vec![id],
    }
}

/// DescribeImages' request.
#[derive(Debug, Default)]
pub struct DescribeImages {
    /// `ImageId.N`: each must exist.
    pub ids: Vec<String>,
    /// `Owner.N`: account ids, `self`, `amazon`, `aws-marketplace`, `aws-backup-vault`.
    pub owners: Vec<String>,
    /// `ExecutableBy.N`: account ids, `self`, `all`.
    pub executable_by: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// The images a caller in `account` asked for. Built-in images are public: owned by
/// [`IMAGE_OWNER_ALIAS`], executable by `all`, and shared with no account in particular.
pub fn describe(account: &str, request: &DescribeImages) -> Result<Vec<&'static Image>> {
    let filters: Vec<Typed<ImageFilter>> = typed(&request.filters)?;
    if let Some(missing) = request.ids.iter().find(|id| find(id).is_none()) {
        return Err(Error::ImageNotFound(missing.clone()));
    }
    let owned = |owner: &String| match owner.as_str() {
        "self" => account == IMAGE_OWNER_ID,
        other => other == IMAGE_OWNER_ALIAS || other == IMAGE_OWNER_ID,
    };
    let executable = |by: &String| by == "all";
    Ok(IMAGES
        .iter()
        .filter(|i| request.ids.is_empty() || request.ids.iter().any(|id| i.answers_to(id)))
        .filter(|_| request.owners.is_empty() || request.owners.iter().any(owned))
        .filter(|_| request.executable_by.is_empty() || request.executable_by.iter().any(executable))
        .filter(|i| all_match(&filters, *i))
        .collect())
}

/// DescribeImages' filters (the EC2 model's list, less those of features the built-in
/// images do not have, which match nothing).
enum ImageFilter {
    Architecture,
    Description,
    ImageId,
    ImageType,
    IsPublic,
    Name,
    OwnerAlias,
    OwnerId,
    RootDeviceName,
    RootDeviceType,
    State,
    VirtualizationType,
    Hypervisor,
    PlatformDetails,
    /// Filters on what built-in images lack: tags, product codes, kernels, snapshots…
    Absent,
}

impl FilterField<Image> for ImageFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "architecture" => ImageFilter::Architecture,
            "description" => ImageFilter::Description,
            "image-id" => ImageFilter::ImageId,
            "image-type" => ImageFilter::ImageType,
            "is-public" => ImageFilter::IsPublic,
            "name" => ImageFilter::Name,
            "owner-alias" => ImageFilter::OwnerAlias,
            "owner-id" => ImageFilter::OwnerId,
            "root-device-name" | "block-device-mapping.device-name" => ImageFilter::RootDeviceName,
            "root-device-type" => ImageFilter::RootDeviceType,
            "state" => ImageFilter::State,
            "virtualization-type" => ImageFilter::VirtualizationType,
            "hypervisor" => ImageFilter::Hypervisor,
            "platform-details" => ImageFilter::PlatformDetails,
            "kernel-id"
            | "ramdisk-id"
            | "platform"
            | "product-code"
            | "product-code.type"
            | "tag-key"
            | "source-instance-id"
            | "block-device-mapping.snapshot-id"
            | "manifest-location"
            | "sriov-net-support"
            | "state-reason-code"
            | "state-reason-message"
            | "ena-support"
            | "imds-support" => ImageFilter::Absent,
            tag if tag.starts_with("tag:") => ImageFilter::Absent,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, image: &'r Image) -> Vec<&'r str> {
        match self {
            ImageFilter::Architecture => vec![IMAGE_ARCHITECTURE],
            ImageFilter::Description => vec![image.description],
            ImageFilter::ImageId => vec![image.id, image.legacy_id],
            ImageFilter::ImageType => vec!["machine"],
            ImageFilter::IsPublic => vec!["true"],
            ImageFilter::Name => vec![image.name],
            ImageFilter::OwnerAlias => vec![IMAGE_OWNER_ALIAS],
            ImageFilter::OwnerId => vec![IMAGE_OWNER_ID],
            ImageFilter::RootDeviceName => vec![ROOT_DEVICE],
            ImageFilter::RootDeviceType => vec!["ebs"],
            ImageFilter::State => vec!["available"],
            ImageFilter::VirtualizationType => vec!["hvm"],
            ImageFilter::Hypervisor => vec!["xen"],
            ImageFilter::PlatformDetails => vec!["Linux/UNIX"],
            ImageFilter::Absent => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(request: DescribeImages, account: &str) -> Vec<&'static str> {
        describe(account, &request).unwrap().iter().map(|i| i.name).collect()
    }

    fn filter(name: &str, value: &str) -> Vec<Filter> {
        vec![Filter { name: name.into(), values: vec![value.into()] }]
    }

    #[test]
    fn ids_have_awss_form_and_the_legacy_id_still_names_the_image() {
        let image = &IMAGES[0];
        let hex = image.id.strip_prefix("ami-").unwrap();
        assert!(hex.len() == 17 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(canonical("ami-keyfleet-linux"), image.id);
        assert_eq!(canonical("ami-other"), "ami-other");
    }

    #[test]
    fn owners_launch_permissions_and_filters_select() {
        let all = || DescribeImages::default();
        assert_eq!(names(all(), "123456789012"), ["keyfleet-linux"]);
        let amazon = DescribeImages { owners: vec!["amazon".into()], ..all() };
        assert_eq!(names(amazon, "123456789012").len(), 1);
        assert!(names(DescribeImages { owners: vec!["self".into()], ..all() }, "123456789012").is_empty());
        assert!(names(DescribeImages { executable_by: vec!["self".into()], ..all() }, "123456789012").is_empty());
        assert_eq!(names(DescribeImages { executable_by: vec!["all".into()], ..all() }, "1").len(), 1);
        assert_eq!(names(DescribeImages { filters: filter("name", "keyfleet-*"), ..all() }, "1").len(), 1);
        assert!(names(DescribeImages { filters: filter("name", "al2023-*"), ..all() }, "1").is_empty());
        assert_eq!(names(DescribeImages { filters: filter("owner-alias", "amazon"), ..all() }, "1").len(), 1);
        assert_eq!(names(DescribeImages { filters: filter("image-id", "ami-keyfleet-linux"), ..all() }, "1").len(), 1);
        assert!(names(DescribeImages { filters: filter("tag:Name", "x"), ..all() }, "1").is_empty());
        assert!(describe("1", &DescribeImages { filters: filter("colour", "x"), ..all() }).is_err());
        assert!(describe("1", &DescribeImages { ids: vec!["ami-0000000000000000a".into()], ..all() }).is_err());
    }
}
