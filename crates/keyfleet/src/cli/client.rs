//! A small EC2 Query client for the `keyfleet key …` commands: form-encoded POST, signed
//! with the server crate's SigV4 code, XML answers parsed into [`xml::Element`].

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use keyfleet_server::api::auth::{SecretKey, sigv4};
use zeroize::Zeroizing;

use super::{aws_files, xml};

/// Where and as whom the client commands connect.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The aws CLI profile to take credentials, region and endpoint_url from.
    #[arg(long, global = true, env = "AWS_PROFILE", default_value = "keyfleet")]
    profile: String,
    /// The server's URL (default: the profile's endpoint_url, else http://127.0.0.1:8773).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The region (default: $AWS_REGION, the profile's region, else us-east-1).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The CA certificates (PEM) that an https endpoint's certificate must chain to (default:
    /// the profile's ca_bundle, else the system's bundle), as the aws CLI's --ca-bundle.
    #[arg(long, global = true, env = "AWS_CA_BUNDLE")]
    ca_bundle: Option<PathBuf>,
}

impl ClientArgs {
    /// These arguments as a command line gives them, for a command that runs keyfleet again.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--profile".to_owned(), self.profile.clone()];
        if let Some(url) = &self.endpoint_url {
            args.extend(["--endpoint-url".to_owned(), url.clone()]);
        }
        if let Some(region) = &self.region {
            args.extend(["--region".to_owned(), region.clone()]);
        }
        if let Some(bundle) = &self.ca_bundle {
            args.extend(["--ca-bundle".to_owned(), bundle.display().to_string()]);
        }
        args
    }
}

/// An error from the server in AWS's format, or from getting there.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// AWS-format error: shown as `Code: Message`.
    #[error("{code}: {message}")]
    Aws { code: String, message: String },
    /// The server could not be reached.
    #[error("cannot reach {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },
    /// The answer was not AWS's XML.
    #[error("unexpected response ({0})")]
    Protocol(String),
}

pub struct Ec2Client {
    agent: ureq::Agent,
    endpoint: String,
    host: String,
    region: String,
    access_key_id: String,
    secret: SecretKey,
}

impl Ec2Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let profile_section =
            if args.profile == "default" { "default".to_owned() } else { format!("profile {}", args.profile) };
        let config = aws_files::read_section(&aws_files::config_path(), &profile_section);
        let stored = aws_files::read_section(&aws_files::credentials_path(), &args.profile);
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let access_key_id = env("AWS_ACCESS_KEY_ID").or_else(|| stored.get("aws_access_key_id").cloned());
        let secret = env("AWS_SECRET_ACCESS_KEY").or_else(|| stored.get("aws_secret_access_key").cloned());
        let (Some(access_key_id), Some(secret)) = (access_key_id, secret) else {
            anyhow::bail!(
                "no credentials: run `keyfleet configure`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            );
        };
        let endpoint = args
            .endpoint_url
            .clone()
            .or_else(|| config.get("endpoint_url").cloned())
            .unwrap_or_else(|| "http://127.0.0.1:8773".to_owned());
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let host = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, h)| h)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let region = args
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| config.get("region").cloned())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let ca_bundle = args.ca_bundle.clone().or_else(|| config.get("ca_bundle").map(PathBuf::from));
        let agent = agent(&endpoint, ca_bundle)?;
        Ok(Ec2Client { agent, endpoint, host, region, access_key_id, secret: SecretKey::new(secret) })
    }

    /// Calls an EC2 action and returns the response's root element.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<xml::Element, ClientError> {
        self.call_query("ec2", "2016-11-15", action, params)
    }

    /// Calls an IAM action and returns the response's `<{Action}Result>` (or root) element.
    pub fn call_iam(&self, action: &str, params: &[(&str, &str)]) -> Result<xml::Element, ClientError> {
        let root = self.call_query("iam", "2010-05-08", action, params)?;
        Ok(root.child(&format!("{action}Result")).cloned().unwrap_or(root))
    }

    /// Calls an EC2 Auto Scaling action and returns the response's `<{Action}Result>` (or root).
    pub fn call_autoscaling(&self, action: &str, params: &[(&str, &str)]) -> Result<xml::Element, ClientError> {
        let root = self.call_query("autoscaling", "2011-01-01", action, params)?;
        Ok(root.child(&format!("{action}Result")).cloned().unwrap_or(root))
    }

    /// A Query-protocol call (EC2's and IAM's error documents differ; both are read).
    fn call_query(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<xml::Element, ClientError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action).append_pair("Version", version);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let (status, text) =
            self.post(service, "application/x-www-form-urlencoded; charset=utf-8", None, form.finish().as_bytes())?;
        let root = xml::parse(&text).map_err(|e| ClientError::Protocol(format!("HTTP {status}: {e}")))?;
        if status.is_success() {
            return Ok(root);
        }
        let error = root.child("Errors").and_then(|e| e.child("Error")).or_else(|| root.child("Error"));
        Err(ClientError::Aws {
            code: error.and_then(|e| e.text_of("Code")).unwrap_or("Unknown").to_owned(),
            message: error.and_then(|e| e.text_of("Message")).unwrap_or_default().to_owned(),
        })
    }

    /// Calls a JSON 1.1 operation (`target` = `Service.Operation`) signed for `service`.
    pub fn call_json(
        &self,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let (status, text) =
            self.post(service, "application/x-amz-json-1.1", Some(target), body.to_string().as_bytes())?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ClientError::Protocol(format!("HTTP {status}: {e}")))?;
        if status.is_success() {
            return Ok(value);
        }
        let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
        Err(ClientError::Aws {
            code: field("__type").unwrap_or("Unknown").rsplit('#').next().unwrap_or_default().to_owned(),
            message: field("message").or_else(|| field("Message")).unwrap_or_default().to_owned(),
        })
    }

    /// One signed `POST /`; returns the status and the body (wiped on drop: it may hold a key).
    fn post(
        &self,
        service: &str,
        content_type: &str,
        target: Option<&str>,
        body: &[u8],
    ) -> Result<(ureq::http::StatusCode, Zeroizing<String>), ClientError> {
        let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
        // Signed, as the SDKs do, so that two identical calls never share a signature (the
        // server refuses a signature it has seen before).
        let invocation_id = keyfleet_server::common::ids::request_id();
        let headers = |name: &str| -> Vec<String> {
            match name {
                "host" => vec![self.host.clone()],
                "amz-sdk-invocation-id" => vec![invocation_id.clone()],
                "x-amz-date" => vec![amz_date.clone()],
                "content-type" => vec![content_type.to_owned()],
                "x-amz-target" => target.map(str::to_owned).into_iter().collect(),
                _ => Vec::new(),
            }
        };
        let signed: &[&str] = if target.is_some() {
            &["amz-sdk-invocation-id", "content-type", "host", "x-amz-date", "x-amz-target"]
        } else {
            &["amz-sdk-invocation-id", "content-type", "host", "x-amz-date"]
        };
        let request = sigv4::Request { method: "POST", path: "/", query: "", headers: &headers, body };
        let authorization =
            sigv4::sign(&request, &self.access_key_id, &self.secret, &self.region, service, &amz_date, signed);
        let transport =
            |e: ureq::Error| ClientError::Transport { endpoint: self.endpoint.clone(), detail: e.to_string() };
        let mut builder = self
            .agent
            .post(format!("{}/", self.endpoint))
            .header("Content-Type", content_type)
            .header("X-Amz-Date", &amz_date)
            .header("amz-sdk-invocation-id", &invocation_id)
            .header("Authorization", &authorization);
        if let Some(target) = target {
            builder = builder.header("X-Amz-Target", target);
        }
        let response = builder.send(body).map_err(transport)?;
        let status = response.status();
        let text = Zeroizing::new(response.into_body().read_to_string().map_err(transport)?);
        Ok((status, text))
    }
}

/// Reads a file for upload, with the path in any error.
pub fn read_file(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Debian's and most distributions' bundle, where OpenSSL looks by default.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// An HTTP agent; for an https endpoint, one that trusts the certificates in `ca_bundle`
/// (or `$SSL_CERT_FILE`, or the system's bundle) and nothing else.
fn agent(endpoint: &str, ca_bundle: Option<PathBuf>) -> anyhow::Result<ureq::Agent> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, TlsProvider};
    let config = ureq::Agent::config_builder().http_status_as_error(false);
    if !endpoint.starts_with("https://") {
        return Ok(config.build().into());
    }
    let path = ca_bundle
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE));
    let pem = std::fs::read(&path).with_context(|| format!("reading the CA bundle {}", path.display()))?;
    let roots: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    anyhow::ensure!(!roots.is_empty(), "the CA bundle {} holds no certificate", path.display());
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::from(roots))
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    Ok(config.tls_config(tls).build().into())
}
