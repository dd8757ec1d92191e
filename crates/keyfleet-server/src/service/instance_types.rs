//! What an instance type gives an instance: vCPUs and memory, as AWS's instance type pages
//! list them (docs/instance-types.md). Built-in instances get exactly that much, enforced by
//! the runtime where the host has control groups.

use crate::runtime::cgroup::Resources;

const GIB: u64 = 1 << 30;

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
