//! What an instance type gives an instance: vCPUs and memory, as AWS's instance type pages
//! list them (docs/instance-types.md). Built-in instances get exactly that much, enforced by
//! the runtime where the host has control groups.

use super::filter::{Filter, FilterField, Typed, all_match, typed};
use super::{Error, Invalid, Result};
use crate::runtime::cgroup::Resources;

const GIB: u64 = 1 << 30;

/// The burstable families and their sizes (all of them exist on EC2).
const BURSTABLE: [&str; 4] = ["t2", "t3", "t3a", "t4g"];
const BURSTABLE_SIZES: [&str; 7] = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"];
/// General purpose, compute and memory families, in the sizes every one of them has.
const FIXED: [&str; 9] = ["m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i"];
const FIXED_SIZES: [&str; 4] = ["large", "xlarge", "2xlarge", "4xlarge"];
/// RunInstances' default type, of the previous generation.
const PREVIOUS_GENERATION: [&str; 1] = ["m1.small"];
/// Free tier types (`t2.micro`, `t3.micro`, as the free tier lists them).
const FREE_TIER: [&str; 2] = ["t2.micro", "t3.micro"];

/// An instance type keyfleet launches, as DescribeInstanceTypes describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    /// `t3.micro`.
    pub name: String,
    /// `x86_64` or `arm64` (the Graviton `t4g`).
    pub architecture: &'static str,
    /// vCPUs and memory.
    pub resources: Resources,
    /// A `t` type.
    pub burstable: bool,
    /// Not of a previous generation.
    pub current_generation: bool,
    /// In the free tier.
    pub free_tier: bool,
    /// Filter texts.
    vcpus_text: String,
    memory_text: String,
}

impl InstanceType {
    /// Memory in MiB, as EC2 reports it.
    pub fn memory_mib(&self) -> u64 {
        self.resources.memory_bytes >> 20
    }
}

/// Every type keyfleet launches, in name order.
pub fn catalog() -> Vec<InstanceType> {
    let burstable = BURSTABLE.iter().flat_map(|f| BURSTABLE_SIZES.iter().map(move |s| format!("{f}.{s}")));
    let fixed = FIXED.iter().flat_map(|f| FIXED_SIZES.iter().map(move |s| format!("{f}.{s}")));
    let previous = PREVIOUS_GENERATION.iter().map(|t| (*t).to_owned());
    let mut all: Vec<InstanceType> = burstable.chain(fixed).chain(previous).map(|name| describe(&name)).collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The type of this name, if keyfleet launches it.
pub fn known(name: &str) -> Option<InstanceType> {
    let (family, size) = name.split_once('.')?;
    let listed = (BURSTABLE.contains(&family) && BURSTABLE_SIZES.contains(&size))
        || (FIXED.contains(&family) && FIXED_SIZES.contains(&size))
        || PREVIOUS_GENERATION.contains(&name);
    listed.then(|| describe(name))
}

fn describe(name: &str) -> InstanceType {
    let resources = resources(name);
    InstanceType {
        name: name.to_owned(),
        architecture: if name.starts_with("t4g.") { "arm64" } else { "x86_64" },
        burstable: name.starts_with('t'),
        current_generation: !PREVIOUS_GENERATION.contains(&name),
        free_tier: FREE_TIER.contains(&name),
        vcpus_text: resources.vcpus.to_string(),
        memory_text: (resources.memory_bytes >> 20).to_string(),
        resources,
    }
}

/// `DescribeInstanceTypes`' input.
#[derive(Debug, Clone, Default)]
pub struct DescribeTypes {
    /// `InstanceType.N`: each must be a type keyfleet has.
    pub names: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
}

/// `DescribeInstanceTypes`: the types asked for, by name and filters.
pub fn describe_types(input: &DescribeTypes) -> Result<Vec<InstanceType>> {
    let filters: Vec<Typed<TypeFilter>> = typed(&input.filters)?;
    let unknown: Vec<String> = input.names.iter().filter(|n| known(n).is_none()).cloned().collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownInstanceTypes(unknown));
    }
    Ok(catalog()
        .into_iter()
        .filter(|t| input.names.is_empty() || input.names.contains(&t.name))
        .filter(|t| all_match(&filters, t))
        .collect())
}

/// The type a launch asks for, checked: it exists, and runs the image's architecture.
pub fn for_launch(name: &str, image_architecture: &str) -> Result<InstanceType> {
    let found = known(name).ok_or_else(|| Error::InvalidParameterValue(Invalid::InstanceType(name.to_owned())))?;
    if found.architecture != image_architecture {
        return Err(Error::InvalidParameterValue(Invalid::ArchitectureMismatch {
            instance: found.architecture,
            image: image_architecture.to_owned(),
        }));
    }
    Ok(found)
}

/// DescribeInstanceTypes' filters.
enum TypeFilter {
    Name,
    CurrentGeneration,
    FreeTier,
    Burstable,
    Architecture,
    Vcpus,
    Memory,
    Hypervisor,
    RootDevice,
    Virtualization,
}

impl FilterField<InstanceType> for TypeFilter {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "instance-type" => TypeFilter::Name,
            "current-generation" => TypeFilter::CurrentGeneration,
            "free-tier-eligible" => TypeFilter::FreeTier,
            "burstable-performance-supported" => TypeFilter::Burstable,
            "processor-info.supported-architecture" => TypeFilter::Architecture,
            "vcpu-info.default-vcpus" => TypeFilter::Vcpus,
            "memory-info.size-in-mib" => TypeFilter::Memory,
            "hypervisor" => TypeFilter::Hypervisor,
            "supported-root-device-type" => TypeFilter::RootDevice,
            "supported-virtualization-type" => TypeFilter::Virtualization,
            _ => return None,
        })
    }

    fn candidates<'r>(&self, t: &'r InstanceType) -> Vec<&'r str> {
        let flag = |on: bool| vec![if on { "true" } else { "false" }];
        match self {
            TypeFilter::Name => vec![&t.name],
            TypeFilter::CurrentGeneration => flag(t.current_generation),
            TypeFilter::FreeTier => flag(t.free_tier),
            TypeFilter::Burstable => flag(t.burstable),
            TypeFilter::Architecture => vec![t.architecture],
            TypeFilter::Vcpus => vec![&t.vcpus_text],
            TypeFilter::Memory => vec![&t.memory_text],
            TypeFilter::Hypervisor => vec!["nitro"],
            TypeFilter::RootDevice => vec!["ebs"],
            TypeFilter::Virtualization => vec!["hvm"],
        }
    }
}

/// The resources of `instance_type`. Sizes AWS lists for the burstable `t2`/`t3`/`t3a`/`t4g`
/// families come from their table; other families follow the sizes' pattern (`large` = 2
/// vCPUs, `xlarge` = 4, `Nxlarge` = 4N) with the family's memory per vCPU (`c` 2 GiB, `r` 8
/// GiB, others 4 GiB). An unknown name gets m1.small's 1 vCPU and 1.7 GiB.
pub fn resources(instance_type: &str) -> Resources {
    let default = Resources { vcpus: 1, memory_bytes: GIB * 17 / 10 };
    let Some((family, size)) = instance_type.split_once('.') else { return default };
    if let Some(burstable) = burstable(family, size) {
        return burstable;
    }
    let vcpus = match size {
        "medium" => 1,
        "large" => 2,
        "xlarge" => 4,
        _ => match size.strip_suffix("xlarge").and_then(|n| n.parse::<u32>().ok()) {
            Some(n) if (2..=48).contains(&n) => 4 * n,
            _ => return default,
        },
    };
    let per_vcpu = match family.chars().next() {
        Some('c') => 2 * GIB,
        Some('r' | 'x') => 8 * GIB,
        _ => 4 * GIB,
    };
    Resources { vcpus, memory_bytes: per_vcpu * u64::from(vcpus) }
}

/// t2 has 1 vCPU up to small and 2 from medium; t3, t3a and t4g have 2 throughout. Memory
/// doubles with each size from nano's 0.5 GiB.
fn burstable(family: &str, size: &str) -> Option<Resources> {
    let step = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"].iter().position(|s| *s == size)?;
    let memory_bytes = (GIB / 2) << step;
    let vcpus = match (family, step) {
        ("t2", 0..=2) => 1,
        ("t2" | "t3" | "t3a" | "t4g", 0..=4) => 2,
        ("t2" | "t3" | "t3a" | "t4g", 5) => 4,
        ("t2" | "t3" | "t3a" | "t4g", _) => 8,
        _ => return None,
    };
    Some(Resources { vcpus, memory_bytes })
}

#[cfg(test)]
mod tests {
    use super::{GIB, resources};
    use crate::runtime::cgroup::Resources;

    #[test]
    fn the_catalog_knows_its_types_and_their_architectures() {
        use super::{for_launch, known};
        assert!(known("t3.micro").is_some() && known("c6i.4xlarge").is_some() && known("m1.small").is_some());
        assert!(known("t3.bogus").is_none() && known("c5.9xlarge").is_none() && known("nonsense").is_none());
        assert_eq!(known("t4g.small").unwrap().architecture, "arm64");
        assert!(for_launch("t4g.small", "x86_64").is_err());
        assert_eq!(for_launch("t3.micro", "x86_64").unwrap().memory_mib(), 1024);
    }

    #[test]
    fn as_aws_lists_them() {
        let r = |vcpus, gib_tenths: u64| Resources { vcpus, memory_bytes: GIB * gib_tenths / 10 };
        assert_eq!(resources("t2.micro"), r(1, 10));
        assert_eq!(resources("t2.small"), r(1, 20));
        assert_eq!(resources("t2.medium"), r(2, 40));
        assert_eq!(resources("t3.micro"), r(2, 10));
        assert_eq!(resources("t3.2xlarge"), r(8, 320));
        assert_eq!(resources("m5.large"), r(2, 80));
        assert_eq!(resources("c5.4xlarge"), r(16, 320));
        assert_eq!(resources("r5.xlarge"), r(4, 320));
        assert_eq!(resources("m1.small"), r(1, 17));
        assert_eq!(resources("nonsense"), r(1, 17));
    }
}
