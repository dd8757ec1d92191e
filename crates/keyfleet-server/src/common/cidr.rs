//! Address ranges in CIDR notation, as IAM's `IpAddress` condition and sshd's `from=`
//! option write them.

use std::net::IpAddr;

/// True if `ip` is inside `cidr` (`10.0.0.0/8`, `::1/128`; a bare address is that address
/// alone). An IPv4 address is never inside an IPv6 range, nor the other way round.
pub fn contains(cidr: &str, ip: IpAddr) -> bool {
    let (network, bits) = match cidr.split_once('/') {
        Some((network, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (network, Some(bits)),
            Err(_) => return false,
        },
        None => (cidr, None),
    };
    let Ok(network) = network.parse::<IpAddr>() else { return false };
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(ip)) => {
            same_prefix(u32::from(n).into(), u32::from(ip).into(), bits.unwrap_or(32), 32)
        }
        (IpAddr::V6(n), IpAddr::V6(ip)) => same_prefix(u128::from(n), u128::from(ip), bits.unwrap_or(128), 128),
        _ => false,
    }
}

fn same_prefix(a: u128, b: u128, bits: u32, width: u32) -> bool {
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn ranges_bare_addresses_and_families() {
        let ip = |s: &str| s.parse().unwrap();
        assert!(contains("10.0.0.0/8", ip("10.200.1.2")));
        assert!(!contains("10.0.0.0/8", ip("11.0.0.1")));
        assert!(contains("0.0.0.0/0", ip("203.0.113.9")));
        assert!(contains("192.0.2.7", ip("192.0.2.7")));
        assert!(!contains("192.0.2.7", ip("192.0.2.8")));
        assert!(contains("2001:db8::/32", ip("2001:db8::1")));
        assert!(!contains("2001:db8::/32", ip("10.0.0.1")));
        assert!(!contains("10.0.0.0/33", ip("10.0.0.1")));
        assert!(!contains("10.0.0.0/x", ip("10.0.0.1")));
        assert!(contains("::/0", ip("::1")));
    }
}
