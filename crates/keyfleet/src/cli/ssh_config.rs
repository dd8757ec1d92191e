//! `keyfleet ssh-config` and `keyfleet proxy`: reach instances by id and by their EC2 DNS
//! names with plain `ssh`, as on EC2 (`ssh -i demo.pem ec2-user@ec2-….compute-1.amazonaws.com`).
//! The snippet makes ssh run `keyfleet proxy %h %p` for those names; the proxy finds the
//! instance's address and relays the connection.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;

use super::client::{ClientArgs, Ec2Client};

#[derive(Debug, Args)]
pub struct SshConfigArgs {
    /// The instances' SSH port (the server's --ssh-port).
    #[arg(short, long, env = "KEYFLEET_SSH_PORT", default_value_t = 22)]
    port: u16,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// An instance id, an instance's public or private DNS name, or its address (ssh's %h).
    host: String,
    /// The port (ssh's %p).
    port: u16,
    #[command(flatten)]
    client: ClientArgs,
}

/// The names the snippet routes through the proxy: instance ids, and EC2's public and
/// private DNS names in every region.
const HOSTS: &str = "i-* ec2-*.amazonaws.com ip-*.ec2.internal ip-*.compute.internal";

/// Prints the snippet, for `Include` from `~/.ssh/config`.
pub fn ssh_config(args: SshConfigArgs) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("finding keyfleet's own path")?;
    let mut proxy = vec![quote(&program.display().to_string()), "proxy".to_owned()];
    proxy.extend(args.client.to_args().iter().map(|a| quote(a)));
    proxy.extend(["%h".to_owned(), "%p".to_owned()]);
    print!(
        "# keyfleet instances by id and by EC2 DNS name: save as ~/.ssh/keyfleet.conf and put\n\
         # `Include keyfleet.conf` at the top of ~/.ssh/config.\n\
         Host {HOSTS}\n    User ec2-user\n    Port {port}\n    ProxyCommand {proxy}\n    \
         StrictHostKeyChecking accept-new\n",
        port = args.port,
        proxy = proxy.join(" ")
    );
    Ok(())
}

/// Connects to the instance `host` names and relays standard input and output to it.
pub fn proxy(args: ProxyArgs) -> anyhow::Result<()> {
    let address = match address_in_name(&args.host) {
        Some(address) => IpAddr::V4(address),
        None if args.host.starts_with("i-") => instance_address(&args.client, &args.host)?,
        None => args
            .host
            .parse()
            .with_context(|| format!("{} is not an instance id, an instance's DNS name or an address", args.host))?,
    };
    let target = SocketAddr::from((address, args.port));
    let stream = TcpStream::connect_timeout(&target, Duration::from_secs(10))
        .with_context(|| format!("connecting to {target}"))?;
    let mut upstream = stream.try_clone()?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let mut downstream = stream;
    let mut stdout = std::io::stdout().lock();
    let mut buffer = [0u8; 32 * 1024];
    loop {
        let n = downstream.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        stdout.write_all(buffer.get(..n).unwrap_or_default())?;
        stdout.flush()?;
    }
}

/// `A.B.C.D` from EC2's DNS names: `ec2-A-B-C-D.compute-1.amazonaws.com`,
/// `ec2-A-B-C-D.REGION.compute.amazonaws.com`, `ip-A-B-C-D.ec2.internal`,
/// `ip-A-B-C-D.REGION.compute.internal`.
fn address_in_name(host: &str) -> Option<Ipv4Addr> {
    let (first, domain) = host.split_once('.')?;
    let dashed = match first.strip_prefix("ec2-") {
        Some(dashed) if domain.ends_with("amazonaws.com") => dashed,
        _ => first.strip_prefix("ip-").filter(|_| domain.ends_with("internal"))?,
    };
    dashed.replace('-', ".").parse().ok()
}

/// A running instance's address, from the API.
fn instance_address(client: &ClientArgs, instance_id: &str) -> anyhow::Result<IpAddr> {
    let response = Ec2Client::new(client)?.call("DescribeInstances", &[("InstanceId.1", instance_id)])?;
    let instance =
        response.items("reservationSet").flat_map(|r| r.items("instancesSet")).next().context("no such instance")?;
    let state = instance.child("instanceState").and_then(|s| s.text_of("name")).unwrap_or_default();
    let Some(address) = instance.text_of("ipAddress").filter(|_| state == "running") else {
        bail!("{instance_id} is {state}: start it first (aws ec2 start-instances --instance-ids {instance_id})");
    };
    address.parse().context("the instance's address")
}

/// Quotes for ssh's ProxyCommand, which a shell runs.
fn quote(word: &str) -> String {
    match word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%".contains(c)) {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_dns_names_carry_the_address() {
        let address = Some(Ipv4Addr::new(127, 77, 0, 2));
        assert_eq!(address_in_name("ec2-127-77-0-2.compute-1.amazonaws.com"), address);
        assert_eq!(address_in_name("ec2-127-77-0-2.eu-west-1.compute.amazonaws.com"), address);
        assert_eq!(address_in_name("ip-127-77-0-2.ec2.internal"), address);
        assert_eq!(address_in_name("ip-127-77-0-2.eu-west-1.compute.internal"), address);
        assert_eq!(address_in_name("ec2-127-77-0-2.example.com"), None);
        assert_eq!(address_in_name("ec2-1-2-3.compute-1.amazonaws.com"), None);
        assert_eq!(address_in_name("i-0123456789abcdef0"), None);
    }

    #[test]
    fn proxy_commands_are_quoted_for_the_shell() {
        assert_eq!(quote("/usr/bin/keyfleet"), "/usr/bin/keyfleet");
        assert_eq!(quote("/my dir/keyfleet"), "'/my dir/keyfleet'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
