//! The `ec2-metadata` command an instance runs, as Amazon Linux's amazon-ec2-utils has it:
//! one option per item (`-i`, `--instance-id`, …), or all of them, printed as `name: value`
//! lines, read from the instance's metadata service with an IMDSv2 token.
//!
//! keyfleet's own executable is this command by its name ([`super::sudo`] binds it), so an
//! instance has it without a copy of anything in its volume.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

/// Where the program is bound inside an instance.
pub const PATH: &str = "/opt/keyfleet/bin/ec2-metadata";

/// The metadata service's socket inside an instance when keyfleet cannot make networks.
const SOCKET: &str = "/run/keyfleet/imds.sock";

/// An answer larger than this is not metadata (user data is at most 16 KiB).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The items, in the order `--all` prints them: short option, long option (also the label
/// printed, but for `placement`) and the metadata path (`None`: keyfleet's instances have no
/// such item, printed `not available` as for any item the service lacks).
const ITEMS: [(char, &str, Option<&str>); 21] = [
    ('a', "ami-id", Some("meta-data/ami-id")),
    ('l', "ami-launch-index", None),
    ('m', "ami-manifest-path", None),
    ('n', "ancestor-ami-ids", None),
    ('b', "block-device-mapping", None),
    ('i', "instance-id", Some("meta-data/instance-id")),
    ('t', "instance-type", Some("meta-data/instance-type")),
    ('h', "local-hostname", Some("meta-data/local-hostname")),
    ('o', "local-ipv4", Some("meta-data/local-ipv4")),
    ('k', "kernel-id", None),
    ('z', "availability-zone", Some("meta-data/placement/availability-zone")),
    ('R', "region", Some("meta-data/placement/region")),
    ('c', "product-codes", None),
    ('p', "public-hostname", Some("meta-data/public-hostname")),
    ('v', "public-ipv4", Some("meta-data/public-ipv4")),
    ('u', "public-keys", Some("meta-data/public-keys")),
    ('r', "ramdisk-id", None),
    ('e', "reservation-id", Some("meta-data/reservation-id")),
    ('s', "security-groups", None),
    ('d', "user-data", Some("user-data")),
    ('g', "tags", None),
];

const USAGE: &str = "ec2-metadata v0.1.4\n\
Use to retrieve EC2 instance metadata from within a running EC2 instance.\n\
e.g. to retrieve instance id: ec2-metadata -i\n\
\t\t to retrieve ami id: ec2-metadata -a\n\
\t\t to get help: ec2-metadata --help\n\
For more information on Amazon EC2 instance meta-data, refer to the documentation at\n\
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-metadata.html\n\n\
Usage: ec2-metadata <option>\n\
Options:\n\
--all                     Show all metadata information for this host (also default).\n\
-a/--ami-id               The AMI ID used to launch this instance\n\
-l/--ami-launch-index     The index of this instance in the reservation (per AMI).\n\
-m/--ami-manifest-path    The manifest path of the AMI with which the instance was launched.\n\
-n/--ancestor-ami-ids     The AMI IDs of any instances that were rebundled to create this AMI.\n\
-b/--block-device-mapping Defines native device names to use when exposing virtual devices.\n\
-i/--instance-id          The ID of this instance\n\
-t/--instance-type        The type of instance to launch. For more information, see Instance Types.\n\
-h/--local-hostname       The local hostname of the instance.\n\
-o/--local-ipv4           Public IP address if launched with direct addressing; private IP address if launched with public addressing.\n\
-k/--kernel-id            The ID of the kernel launched with this instance, if applicable.\n\
-z/--availability-zone    The availability zone in which the instance launched. Same as placement\n\
-R/--region               The region in which the instance launched.\n\
-c/--product-codes        Product codes associated with this instance.\n\
-p/--public-hostname      The public hostname of the instance.\n\
-v/--public-ipv4          NATted public IP Address\n\
-u/--public-keys          Public keys. Only available if supplied at instance launch time\n\
-r/--ramdisk-id           The ID of the RAM disk launched with this instance, if applicable.\n\
-e/--reservation-id       ID of the reservation.\n\
-s/--security-groups      Names of the security groups the instance is launched in.\n\
-d/--user-data            User-supplied data.Only available if supplied at instance launch time.\n\
-g/--tags                 Print EC2 resource tags if permitted in EC2 Instance Metadata Options.\n\
--quiet                   Don't print metadata keys\n\
--help                    Show this help.\n";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Request {
    Help,
    /// These items (indexes into [`ITEMS`]), with or without their labels.
    Items {
        items: Vec<usize>,
        quiet: bool,
    },
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut items = Vec::new();
    let mut quiet = false;
    for arg in args {
        let index = |found: Option<usize>| found.ok_or_else(|| format!("ec2-metadata: invalid option -- '{arg}'"));
        match arg.as_str() {
            "--help" => return Ok(Request::Help),
            "--quiet" => quiet = true,
            "--all" => items.extend(0..ITEMS.len()),
            long if long.starts_with("--") => {
                let name = long.trim_start_matches('-');
                items.push(index(ITEMS.iter().position(|item| item.1 == name))?);
            }
            short if short.starts_with('-') && short.len() > 1 => {
                for c in short.chars().skip(1) {
                    items.push(index(ITEMS.iter().position(|item| item.0 == c))?);
                }
            }
            _ => return Err(format!("ec2-metadata: invalid argument '{arg}'")),
        }
    }
    if items.is_empty() {
        items.extend(0..ITEMS.len());
    }
    Ok(Request::Items { items, quiet })
}

/// One HTTP/1.0 exchange with the metadata service: the status and the body.
fn exchange(request: &str) -> std::io::Result<(u16, String)> {
    let timeout = Some(Duration::from_secs(5));
    let mut stream: Box<dyn ReadWrite> = if std::path::Path::new(SOCKET).exists() {
        let stream = UnixStream::connect(SOCKET)?;
        stream.set_read_timeout(timeout)?;
        Box::new(stream)
    } else if !in_own_network() {
        // Without the instance's own network, 169.254.169.254 would be whatever the host
        // reaches there (the host's own metadata, on EC2): not this instance's.
        return Err(std::io::Error::other("this instance has no metadata service"));
    } else {
        let address = SocketAddr::from((super::netns::METADATA_ADDRESS, 80));
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_read_timeout(timeout)?;
        Box::new(stream)
    };
    stream.write_all(request.as_bytes())?;
    let mut bytes = Vec::new();
    stream.take(MAX_ANSWER_BYTES).read_to_end(&mut bytes)?;
    let answer = String::from_utf8_lossy(&bytes);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&*answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// Whether 169.254.169.254 is an address of this network, as in an instance's own.
fn in_own_network() -> bool {
    std::net::UdpSocket::bind((super::netns::METADATA_ADDRESS, 0)).is_ok()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn token() -> std::io::Result<String> {
    let (status, body) = exchange(
        "PUT /latest/api/token HTTP/1.0\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
    )?;
    match status {
        200 => Ok(body),
        _ => Err(std::io::Error::other(format!("the metadata service answered {status} for a token"))),
    }
}

/// What amazon-ec2-utils prints for an item the service does not have.
const NOT_AVAILABLE: &str = "not available";

/// An item's value without its trailing newlines; `None` when the service has none.
fn value(token: &str, path: &str) -> std::io::Result<Option<String>> {
    let (status, body) = exchange(&format!(
        "GET /latest/{path} HTTP/1.0\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"
    ))?;
    let body = body.trim_end_matches('\n');
    Ok((status == 200 && !body.is_empty()).then(|| body.to_owned()))
}

/// The launch key as amazon-ec2-utils prints it: its name, index and format, then the key on
/// a line of its own. `listing` is `public-keys/`'s `0=NAME` lines.
fn public_keys(token: &str, listing: &str) -> std::io::Result<String> {
    let mut text = String::new();
    for line in listing.lines() {
        let Some((index, name)) = line.split_once('=') else { continue };
        let key = value(token, &format!("meta-data/public-keys/{index}/openssh-key"))?.unwrap_or_default();
        text.push_str(&format!(
            "\nkeyname:{name}\nindex:{index}\nformat:openssh-key\nkey:(begins from next line)\n{key}"
        ));
    }
    Ok(text)
}

/// Runs `ec2-metadata ARGS`.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let (items, quiet) = match parse(&args) {
        Ok(Request::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Request::Items { items, quiet }) => (items, quiet),
        Err(message) => {
            eprint!("{message}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let print = || -> std::io::Result<()> {
        let token = token()?;
        let mut out = std::io::stdout().lock();
        for (_, name, path) in items.iter().filter_map(|i| ITEMS.get(*i)) {
            let value = match path {
                Some(path) => value(&token, path)?,
                None => None,
            };
            let value = match (*name, value) {
                ("public-keys", Some(keys)) => public_keys(&token, &keys)?,
                (_, Some(value)) => value,
                (_, None) => NOT_AVAILABLE.to_owned(),
            };
            let label = if *name == "availability-zone" { "placement" } else { name };
            if quiet {
                writeln!(out, "{value}")?;
            } else {
                writeln!(out, "{label}: {value}")?;
            }
        }
        Ok(())
    };
    match print() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ec2-metadata: cannot reach the instance metadata service: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_name_items_in_the_order_given() {
        let id = ITEMS.iter().position(|i| i.1 == "instance-id").unwrap();
        let zone = ITEMS.iter().position(|i| i.1 == "availability-zone").unwrap();
        assert_eq!(parse(&args("-i -z")), Ok(Request::Items { items: vec![id, zone], quiet: false }));
        assert_eq!(parse(&args("-iz")), parse(&args("--instance-id --availability-zone")));
        assert_eq!(parse(&args("--quiet -i")), Ok(Request::Items { items: vec![id], quiet: true }));
        assert_eq!(parse(&[]), Ok(Request::Items { items: (0..ITEMS.len()).collect(), quiet: false }));
        assert_eq!(parse(&args("--help")), Ok(Request::Help));
        assert!(parse(&args("-x")).unwrap_err().contains("invalid option"));
        assert!(parse(&args("--nope")).is_err());
        assert!(parse(&args("instance-id")).is_err());
    }
}
