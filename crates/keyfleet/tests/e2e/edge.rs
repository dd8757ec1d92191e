//! Hardening at the edge, as a client meets it: body and parameter limits, the per-key rate
//! limit with EC2's RequestLimitExceeded, and slow clients cut off.

use std::io::{Read, Write};

use crate::support::{Options, TestServer, json, require};

fn post(server: &TestServer, body: String) -> (u16, String) {
    let response = ureq::post(format!("{}/", server.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .config()
        .http_status_as_error(false)
        .build()
        .send(body)
        .unwrap();
    let status = response.status().as_u16();
    (status, response.into_body().read_to_string().unwrap())
}

#[test]
fn oversized_bodies_and_too_many_parameters_or_filters_are_refused() {
    let server = TestServer::dev();
    let (status, text) =
        post(&server, format!("Action=DescribeKeyPairs&Version=2016-11-15&Pad={}", "x".repeat(300 * 1024)));
    assert_eq!(status, 413);
    assert!(text.contains("<Code>RequestEntityTooLarge</Code>"), "{text}");

    let many: String = (1..=2100).map(|i| format!("&KeyName.{i}=k{i}")).collect();
    let (status, text) = post(&server, format!("Action=DescribeKeyPairs&Version=2016-11-15{many}"));
    assert_eq!(status, 400);
    assert!(
        text.contains("<Code>InvalidParameterValue</Code>") && text.contains("more than 2000 parameters"),
        "{text}"
    );

    let filters: String = (1..=51).map(|i| format!("&Filter.{i}.Name=key-name&Filter.{i}.Value.1=x")).collect();
    let (_, text) = post(&server, format!("Action=DescribeKeyPairs&Version=2016-11-15{filters}"));
    assert!(text.contains("The maximum number of filters is 50."), "{text}");
    let values: String = (1..=201).map(|i| format!("&Filter.1.Value.{i}=v{i}")).collect();
    let (_, text) = post(&server, format!("Action=DescribeKeyPairs&Version=2016-11-15&Filter.1.Name=key-name{values}"));
    assert!(text.contains("<Code>InvalidParameterValue</Code>") && text.contains("200"), "{text}");
}

#[test]
fn each_access_key_is_rate_limited_with_request_limit_exceeded() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start_with(Options {
        args: vec!["--rate-limit".into(), "1".into(), "--rate-burst".into(), "3".into()],
        ..Options::default()
    });
    // The burst is spent by the first calls (the admin key's IAM calls included).
    let user = server
        .create_user("limited", Some(r#"{"Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}}"#));
    // Eight calls at once: at most the burst of 3 and a refill of 1 per second get through.
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let mut command = std::process::Command::new("aws");
            command.args(["--endpoint-url", &server.url, "ec2", "describe-key-pairs"]);
            server.aws_env_as(&mut command, &user);
            command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = calls.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let refused: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert!(!refused.is_empty() && refused.len() < 8, "{refused:?}");
    let stderr = &refused[0];
    assert!(stderr.contains("(RequestLimitExceeded)"), "{stderr}");
    assert!(stderr.contains("Request limit exceeded."), "{stderr}");
}

#[test]
fn a_client_that_never_finishes_its_request_is_disconnected() {
    let server = TestServer::dev();
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let mut buf = Vec::new();
    // The server answers 408 or just closes; either way the connection ends well before the
    // read timeout, which would fail the read.
    stream.read_to_end(&mut buf).expect("the server closes the connection");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

fn metric(server: &TestServer, name: &str) -> Option<u64> {
    let text = ureq::get(format!("{}/metrics", server.url)).call().unwrap().into_body().read_to_string().unwrap();
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).map(|v| v.trim().parse().unwrap())
}

#[test]
fn rsa_keys_come_from_the_pool_and_the_pool_shows_in_metrics() {
    let server = TestServer::start_with(Options {
        dev: true,
        args: vec!["--rsa-pool-size".into(), "3".into()],
        ..Options::default()
    });
    assert_eq!(metric(&server, "keyfleet_rsa_pool_capacity"), Some(3));
    for _ in 0..300 {
        if metric(&server, "keyfleet_rsa_pool_ready") == Some(3) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(metric(&server, "keyfleet_rsa_pool_ready"), Some(3), "the pool fills in the background");
    let (status, first) = post(&server, "Action=CreateKeyPair&Version=2016-11-15&KeyName=a".into());
    assert_eq!(status, 200);
    let (_, second) = post(&server, "Action=CreateKeyPair&Version=2016-11-15&KeyName=b".into());
    assert_eq!(metric(&server, "keyfleet_rsa_pool_hits_total"), Some(2));
    let material =
        |xml: &str| xml.split("<keyMaterial>").nth(1).unwrap().split("</keyMaterial>").next().unwrap().to_owned();
    assert!(material(&first).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_ne!(material(&first), material(&second), "a pooled key goes to one caller only");

    let no_pool = TestServer::start_with(Options {
        dev: true,
        args: vec!["--rsa-pool-size".into(), "0".into()],
        ..Options::default()
    });
    assert_eq!(post(&no_pool, "Action=CreateKeyPair&Version=2016-11-15&KeyName=a".into()).0, 200);
    assert_eq!(metric(&no_pool, "keyfleet_rsa_pool_hits_total"), None);
}

/// Instances per account and region are capped (`--instance-quota`): past it RunInstances
/// answers EC2's VcpuLimitExceeded, and terminating one makes room again.
#[test]
fn the_instance_quota_holds_and_frees_on_termination() {
    if !require(&["aws"]) {
        return;
    }
    let server =
        TestServer::start_with(Options { args: vec!["--instance-quota".into(), "2".into()], ..Options::default() });
    let run = |extra: &str| format!("ec2 run-instances --image-id ami-keyfleet-linux {extra}");
    let first = json(&server.aws_ok(&run("--count 2")));
    let message = server.aws_err(&run(""), "VcpuLimitExceeded");
    assert!(message.contains("your current vCPU limit of 2 allows"), "{message}");
    server.aws_err(&run("--count 1:5"), "VcpuLimitExceeded");
    let id = first["Instances"][0]["InstanceId"].as_str().unwrap();
    server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
    crate::instances::wait_for_state(&server, id, "terminated");
    server.aws_ok(&run(""));
}

/// Unsigned requests are all refused, but their audit records are rate-limited per source
/// address and their user agents cut to 1 KiB: a flood cannot grow the store at request speed.
#[test]
fn a_flood_of_unsigned_requests_does_not_flood_the_audit_log() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let agent = "x".repeat(8 * 1024);
    let agent = agent.as_str();
    for _ in 0..300 {
        let response = ureq::post(format!("{}/", server.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("User-Agent", agent)
            .config()
            .http_status_as_error(false)
            .build()
            .send("Action=DescribeKeyPairs&Version=2016-11-15")
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
    let events =
        json(&server.aws_ok(
            "cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=DescribeKeyPairs",
        ));
    let events = events["Events"].as_array().unwrap();
    assert!(events.len() >= 100 && events.len() < 200, "{} records of 300 refusals", events.len());
    let record: serde_json::Value = serde_json::from_str(events[0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(record["userAgent"].as_str().unwrap().len(), 1024);
}

/// The issue's number: 1100 idle connections from one address used to hold every
/// descriptor and task. Past the per-source cap (256), each is closed as it arrives, while the
/// first ones stay open and other addresses are served.
#[test]
fn one_source_holding_idle_connections_cannot_lock_out_the_others() {
    if !require(&["aws", "curl"]) {
        return;
    }
    let server = TestServer::start();
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut held = Vec::new();
        for _ in 0..1100 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            held.push(socket.connect(addr).await.unwrap());
        }
        let mut last = held.pop().unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            tokio::io::AsyncReadExt::read(&mut last, &mut buf),
        );
        let closed = matches!(read.await.expect("the 1100th connection was kept open"), Ok(0) | Err(_));
        assert!(closed, "the 1100th connection from one address was served");
        // Closed by the cap, not by the header timeout: the first connection is still open.
        let first = held[0].try_read(&mut buf);
        assert!(matches!(&first, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "{first:?}");
        // Meanwhile another address is served, health check and signed call alike.
        let health =
            std::process::Command::new("curl").args(["-sS", &format!("{}/healthz", server.url)]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&health.stdout), "ok\n");
        server.aws_ok("ec2 describe-key-pairs");
        drop(held);
    });
}
