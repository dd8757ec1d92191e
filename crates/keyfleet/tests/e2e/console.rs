//! The web console in a real headless Chromium, driven through chromedriver (WebDriver):
//! signing in both ways, the key pair flows with the downloaded files checked by
//! `ssh-keygen` and `puttygen`, authorization as the API's, CSRF, and the cookie.
//!
//! `KEYFLEET_SCREENSHOTS=DIR` saves a screenshot of each page visited into DIR (the README's
//! pictures in docs/console/ come from such a run).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{TestServer, free_port, json, require, run_ok};

/// How long a page, a download or the driver may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A headless Chromium session, with its downloads going to a directory of its own.
struct Browser {
    client: Client,
    driver: Child,
    downloads: tempfile::TempDir,
    base: String,
}

impl Browser {
    async fn open(server: &TestServer) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let downloads = tempfile::tempdir().expect("downloads dir");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-US"],
                "prefs": {
                    "download.default_directory": downloads.path().to_str().expect("utf-8 path"),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                }
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser { client, driver, downloads, base: server.url.clone() }
    }

    async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let page = self.client.source().await.unwrap_or_default();
                panic!("{css} did not appear on {url}: {e}\n{page}")
            }
        }
    }

    async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("text")
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    /// Clicks something that stays on the page (a radio button, a checkbox).
    async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("click");
    }

    /// Clicks something that leaves the page (a submit button, a link), and waits until the
    /// page has gone, so that what is looked for next is found on the page that follows.
    async fn submit(&self, css: &str) {
        let body = self.client.find(Locator::Css("body")).await.expect("a page");
        self.click(css).await;
        self.until(&format!("{css} leaves the page"), async || body.tag_name().await.is_err()).await;
    }

    /// Signs in with an access key; the dashboard is then open.
    async fn sign_in_with_key(&self, id: &str, secret: &str) {
        self.goto("/console/").await;
        self.fill("#AccessKeyId", id).await;
        self.fill("#SecretAccessKey", secret).await;
        self.submit("#sign-in-key button[type=submit]").await;
    }

    async fn sign_in_with_password(&self, account: &str, user: &str, password: &str) {
        self.goto("/console/").await;
        self.fill("#Account", account).await;
        self.fill("#UserName", user).await;
        self.fill("#Password", password).await;
        self.submit("#sign-in-password button[type=submit]").await;
    }

    /// Waits until `ready` holds.
    async fn until(&self, what: &str, mut ready: impl AsyncFnMut() -> bool) {
        let started = Instant::now();
        while !ready().await {
            assert!(started.elapsed() < PATIENCE, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `name` has been downloaded completely, and returns its path.
    async fn downloaded(&self, name: &str) -> PathBuf {
        let path = self.downloads.path().join(name);
        let started = Instant::now();
        while !path.exists() {
            assert!(started.elapsed() < PATIENCE, "{name} was not downloaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        path
    }

    /// Saves a screenshot of the page as `name`.png when screenshots are asked for.
    async fn snapshot(&self, name: &str) {
        let Ok(dir) = std::env::var("KEYFLEET_SCREENSHOTS") else { return };
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/usr/bin/chromium")
}

/// Runs `test` with a browser on `server`, on a runtime of its own (the harness is sync).
fn with_browser<F: AsyncFnOnce(&Browser)>(server: &TestServer, test: F) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let browser = Browser::open(server).await;
        test(&browser).await;
        browser.close().await;
    });
}

fn browser_available() -> bool {
    require(&["chromedriver", "chromium", "ssh-keygen", "puttygen", "aws", "curl"])
}

#[test]
fn signs_in_with_a_key_or_a_password_and_refuses_wrong_ones() {
    if !browser_available() {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    server.aws_ok("iam create-user --user-name alice");
    server.aws_ok("iam create-user --user-name bob");
    server.aws_ok("iam create-login-profile --user-name bob --password Bobs-first-passw0rd --password-reset-required");
    server.aws_ok("iam create-login-profile --user-name alice --password Correct-h0rse-battery");
    server.aws_err("iam create-login-profile --user-name alice --password Another-passw0rd", "EntityAlreadyExists");
    server.aws_err("iam update-login-profile --user-name alice --password short", "PasswordPolicyViolation");
    server.aws_err("iam delete-user --user-name alice", "DeleteConflict");
    let profile = json(&server.aws_ok("iam get-login-profile --user-name alice"));
    assert_eq!(profile["LoginProfile"]["UserName"], "alice");
    assert_eq!(profile["LoginProfile"]["PasswordResetRequired"], false);
    let account = server_account(&server);

    with_browser(&server, async |b| {
        b.goto("/console/").await;
        b.snapshot("sign-in").await;
        b.sign_in_with_key(&admin.id, "not-the-secret").await;
        let problem = b.text("#problem").await;
        assert!(problem.contains("authentication information is incorrect"), "{problem}");

        b.sign_in_with_key(&admin.id, &admin.secret).await;
        assert_eq!(b.text("main h1").await, "EC2 Dashboard");
        assert!(b.text("#identity").await.starts_with("root @"));
        b.snapshot("dashboard").await;

        let cookies = b.client.get_all_cookies().await.expect("cookies");
        let session = cookies.iter().find(|c| c.name() == "keyfleet_session").expect("the session cookie");
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");
        assert_eq!(session.path(), Some("/console"));
        let token = session.value().to_owned();

        b.submit("#sign-out").await;
        b.wait_for("#sign-in-key").await;
        // The signed-out token no longer opens anything.
        let after =
            run_ok("curl", &["-s", "-b", &format!("keyfleet_session={token}"), &format!("{}/console/", server.url)]);
        assert!(after.contains("sign-in-key") && !after.contains("EC2 Dashboard"), "{after}");

        b.sign_in_with_password(&account, "alice", "Wrong-h0rse-battery").await;
        assert!(b.text("#problem").await.contains("authentication information is incorrect"));
        b.sign_in_with_password(&account, "alice", "Correct-h0rse-battery").await;
        assert_eq!(b.text("#identity").await, format!("alice @ {account}"));

        // PasswordResetRequired: the first sign-in asks for a new password that meets the policy.
        b.submit("#sign-out").await;
        b.sign_in_with_password(&account, "bob", "Bobs-first-passw0rd").await;
        b.fill("#Password", "Bobs-first-passw0rd").await;
        b.fill("#NewPassword", "weak").await;
        b.submit("#sign-in-new-password button[type=submit]").await;
        assert!(b.text("#problem").await.contains("at least 8 characters"));
        b.fill("#Password", "Bobs-first-passw0rd").await;
        b.fill("#NewPassword", "Bobs-second-passw0rd").await;
        b.submit("#sign-in-new-password button[type=submit]").await;
        assert_eq!(b.text("#identity").await, format!("bob @ {account}"));
        b.submit("#sign-out").await;
        b.sign_in_with_password(&account, "bob", "Bobs-second-passw0rd").await;
        assert_eq!(b.text("#identity").await, format!("bob @ {account}"));
    });
    let bob = json(&server.aws_ok("iam get-login-profile --user-name bob"));
    assert_eq!(bob["LoginProfile"]["PasswordResetRequired"], false, "the reset was done");

    let records = audit_records(&server, "ConsoleLogin");
    let failed = records.iter().filter(|r| r["errorMessage"] == "Failed authentication").count();
    assert_eq!((records.len(), failed), (6, 2), "{records:#?}");
    assert!(records.iter().all(|r| r["eventSource"] == "signin.amazonaws.com"));
}

/// The CloudTrail records of the events named `name`, newest first, through the aws CLI.
fn audit_records(server: &TestServer, name: &str) -> Vec<serde_json::Value> {
    let found =
        json(&server.aws_ok(&format!(
            "cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue={name}"
        )));
    found["Events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| serde_json::from_str(e["CloudTrailEvent"].as_str().expect("record")).expect("json"))
        .collect()
}

/// The account the admin key belongs to, from the credentials file the server wrote.
fn server_account(server: &TestServer) -> String {
    let credentials = std::fs::read_to_string(server.data_dir().join("admin-credentials")).expect("credentials");
    credentials.lines().find_map(|l| l.strip_prefix("account_id = ")).expect("account_id").trim().to_owned()
}

#[test]
fn creates_imports_pages_and_deletes_key_pairs() {
    if !browser_available() {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let keys = tempfile::tempdir().expect("key dir");
    let pasted = make_public_key(keys.path(), "pasted");
    let uploaded = make_public_key(keys.path(), "uploaded");
    server.boto3("bulk_key_pairs.py", &["bulk", "55", pasted.trim()]);

    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;

        // Create rsa/pem: downloaded once, and the page moves on to the ssh lines.
        b.goto("/console/ec2/key-pairs/create").await;
        b.fill("#KeyName", "web-rsa").await;
        b.fill("#tag-key-1", "team").await;
        b.fill("#tag-value-1", "web").await;
        b.snapshot("key-pair-create").await;
        b.submit("#create-submit").await;
        let pem = b.downloaded("web-rsa.pem").await;
        assert!(b.text("#connect-lines").await.contains("chmod 400 web-rsa.pem"));
        b.snapshot("key-pair-created").await;
        // As the page says: chmod 400, which ssh-keygen insists on.
        std::fs::set_permissions(&pem, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        assert_eq!(public_of(&["ssh-keygen", "-y", "-f"], &pem), described_public_key(&server, "web-rsa"));

        // Create ed25519/ppk, checked with puttygen.
        b.goto("/console/ec2/key-pairs/create").await;
        b.fill("#KeyName", "web-ed").await;
        b.click("#KeyType-ed25519").await;
        b.click("#KeyFormat-ppk").await;
        b.submit("#create-submit").await;
        let ppk = b.downloaded("web-ed.ppk").await;
        b.wait_for("#connect-lines").await;
        let from_ppk = run_ok("puttygen", &[ppk.to_str().unwrap(), "-O", "public-openssh", "-o", "/dev/stdout"]);
        assert_eq!(key_body(&from_ppk), described_public_key(&server, "web-ed"));

        // A name that is taken: the API's error, on the form, and no second download.
        b.goto("/console/ec2/key-pairs/create").await;
        b.fill("#KeyName", "web-rsa").await;
        b.submit("#create-submit").await;
        assert!(b.text("#problem").await.contains("InvalidKeyPair.Duplicate"));

        // Import by paste, and by upload of a .pub file.
        b.goto("/console/ec2/key-pairs/import").await;
        b.fill("#KeyName", "pasted").await;
        b.fill("#PublicKeyMaterial", pasted.trim()).await;
        b.snapshot("key-pair-import").await;
        b.submit("#import-submit").await;
        b.wait_for("tr[data-name=pasted]").await;
        b.goto("/console/ec2/key-pairs/import").await;
        b.fill("#KeyName", "uploaded").await;
        let file = keys.path().join("uploaded.pub");
        b.wait_for("#public-key-file").await.send_keys(file.to_str().unwrap()).await.expect("choose file");
        b.until("the chosen file fills the key field", async || {
            let Ok(area) = b.client.find(Locator::Css("#PublicKeyMaterial")).await else { return false };
            area.prop("value").await.ok().flatten().is_some_and(|v| !v.is_empty())
        })
        .await;
        b.submit("#import-submit").await;
        b.wait_for("tr[data-name=uploaded]").await;
        assert_eq!(described_public_key(&server, "uploaded"), key_body(&uploaded));

        // Filter and page: 55 bulk pairs are two pages of 50.
        b.goto("/console/ec2/key-pairs").await;
        b.snapshot("key-pairs").await;
        b.fill("#filter", "bulk").await;
        b.submit("form.filter button").await;
        b.wait_for("#next-page").await;
        assert!(b.text("#pages").await.contains("Page 1 of 2"));
        assert!(b.text("h1").await.contains("(55)"));
        b.submit("#next-page").await;
        b.wait_for("a[rel=prev]").await;
        assert_eq!(b.client.find_all(Locator::Css("#key-pairs tbody tr")).await.unwrap().len(), 5);

        // A value XML cannot carry is refused as the API refuses it, and nothing is created.
        let cookies = b.client.get_all_cookies().await.unwrap();
        let cookie =
            format!("keyfleet_session={}", cookies.iter().find(|c| c.name() == "keyfleet_session").unwrap().value());
        let url = format!("{}/console/ec2/key-pairs/create", server.url);
        let page = run_ok("curl", &["-s", "-b", &cookie, &url]);
        let csrf = crate::support::csrf_token(&page);
        let form = format!(
            "csrf={csrf}&KeyName=xml-bad&TagSpecification.1.ResourceType=key-pair&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=%EF%BF%BF"
        );
        let status = run_ok("curl", &["-s", "-o", "/dev/null", "-w", "%{http_code}", "-b", &cookie, "-d", &form, &url]);
        assert_eq!(status, "400");
        server.aws_err("ec2 describe-key-pairs --key-names xml-bad", "InvalidKeyPair.NotFound");

        // Manage tags on a chosen row: add one, then remove it.
        b.goto("/console/ec2/key-pairs?filter=web-ed").await;
        b.click("tr[data-name=web-ed] input[type=checkbox]").await;
        b.submit("#manage-tags").await;
        b.fill("#tag-key-1", "owner").await;
        b.fill("#tag-value-1", "ops").await;
        b.submit("#save-tags").await;
        assert!(b.text("tr[data-name=web-ed]").await.contains("owner=ops"));
        b.click("tr[data-name=web-ed] input[type=checkbox]").await;
        b.submit("#manage-tags").await;
        b.click("#remove-owner").await;
        b.submit("#save-tags").await;
        assert!(!b.text("tr[data-name=web-ed]").await.contains("owner"));

        // Delete with confirmation.
        b.goto("/console/ec2/key-pairs?filter=web-rsa").await;
        b.click("tr[data-name=web-rsa] input[type=checkbox]").await;
        b.submit("#delete-selected").await;
        assert!(b.text(".warning").await.contains("New launches that name it fail"));
        b.snapshot("key-pair-delete").await;
        b.fill("#confirm", "delete").await;
        b.submit("#confirm-delete").await;
        assert!(b.text("#notice").await.contains("Deleted 1"));
    });
    server.aws_err("ec2 describe-key-pairs --key-names web-rsa", "InvalidKeyPair.NotFound");

    // The console's calls are in the audit log, with the console as the user agent.
    let agents: Vec<String> = audit_records(&server, "CreateKeyPair")
        .iter()
        .map(|r| r["userAgent"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(agents.len(), 3, "two created and one refused as a duplicate: {agents:?}");
    assert!(agents.iter().all(|a| a.starts_with("keyfleet-console (")), "{agents:?}");
}

#[test]
fn a_user_is_held_to_the_same_policies_and_forms_need_their_token() {
    if !browser_available() {
        return;
    }
    let server = TestServer::start();
    let dev_only = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"ec2:DescribeKeyPairs","Resource":"*"},
        {"Effect":"Allow","Action":"ec2:CreateKeyPair","Resource":"arn:aws:ec2:*:*:key-pair/dev-*"}]}"#;
    let _ = server.create_user("dana", Some(dev_only));
    server.aws_ok("iam create-login-profile --user-name dana --password Dana-s3cret-pass");
    let _ = server.create_user(
        "nolist",
        Some(
            r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"ec2:CreateKeyPair","Resource":"*"}]}"#,
        ),
    );
    server.aws_ok("iam create-login-profile --user-name nolist --password Nolist-s3cret-pass");
    let account = server_account(&server);

    with_browser(&server, async |b| {
        b.sign_in_with_password(&account, "dana", "Dana-s3cret-pass").await;
        b.goto("/console/ec2/key-pairs/create").await;
        b.fill("#KeyName", "dev-1").await;
        b.submit("#create-submit").await;
        b.downloaded("dev-1.pem").await;
        b.wait_for("#connect-lines").await;

        b.goto("/console/ec2/key-pairs/create").await;
        b.fill("#KeyName", "prod-1").await;
        b.submit("#create-submit").await;
        let refusal = b.text("#problem").await;
        assert!(refusal.contains("You are not authorized to perform this operation."), "{refusal}");
        assert!(refusal.contains("ec2:CreateKeyPair") && refusal.contains("key-pair/prod-1"), "{refusal}");
        b.snapshot("denied").await;

        // CSRF: the browser's own cookie, sent by a request that has no form token or that
        // comes from another origin, changes nothing.
        let cookies = b.client.get_all_cookies().await.unwrap();
        let token = cookies.iter().find(|c| c.name() == "keyfleet_session").unwrap().value().to_owned();
        let cookie = format!("keyfleet_session={token}");
        let url = format!("{}/console/ec2/key-pairs/create", server.url);
        let no_token = run_ok(
            "curl",
            &["-s", "-o", "/dev/null", "-w", "%{http_code}", "-b", &cookie, "-d", "KeyName=dev-csrf", &url],
        );
        assert_eq!(no_token, "403");
        let page = run_ok("curl", &["-s", "-b", &cookie, &url]);
        let csrf = crate::support::csrf_token(&page);
        let elsewhere = run_ok(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-b",
                &cookie,
                "-H",
                "Origin: http://attacker.example",
                "-d",
                &format!("csrf={csrf}&KeyName=dev-csrf2"),
                &url,
            ],
        );
        assert_eq!(elsewhere, "403");

        b.submit("#sign-out").await;
        b.sign_in_with_password(&account, "nolist", "Nolist-s3cret-pass").await;
        b.goto("/console/ec2/key-pairs").await;
        assert!(b.text("#problem").await.contains("You are not authorized to perform this operation."));
        assert!(b.client.find(Locator::Css("#key-pairs")).await.is_err(), "no table without DescribeKeyPairs");
    });
    let names: Vec<String> = json(&server.aws_ok("ec2 describe-key-pairs"))["KeyPairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["dev-1"]);
}

/// A new ed25519 key pair in `dir` as NAME and NAME.pub; returns the public line.
fn make_public_key(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    run_ok("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.to_str().unwrap()]);
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).expect("public key")
}

/// `<type> <base64>` of an OpenSSH public key line (its comment dropped).
fn key_body(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn public_of(command: &[&str], private: &Path) -> String {
    let (program, args) = command.split_first().unwrap();
    let mut args = args.to_vec();
    args.push(private.to_str().unwrap());
    key_body(&run_ok(program, &args))
}

fn described_public_key(server: &TestServer, name: &str) -> String {
    let described = json(&server.aws_ok(&format!("ec2 describe-key-pairs --key-names {name} --include-public-key")));
    key_body(described["KeyPairs"][0]["PublicKey"].as_str().expect("PublicKey"))
}

#[test]
fn the_launch_wizard_launches_with_an_existing_or_a_new_key_pair_and_ssh_gets_in() {
    if !browser_available() || !require(&crate::instances::TOOLS) {
        return;
    }
    use crate::instances::{describe, ssh_ok, wait_for_state};
    // The default group admits no one: ssh gets in through the groups the wizard makes.
    let server = TestServer::start_with(crate::support::Options { firewalled: true, ..Default::default() });
    let admin = server.admin();
    let existing = crate::instances::create_key(&server, "existing");

    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/ec2/instances").await;
        b.wait_for("#empty").await;

        // With an existing key pair.
        b.goto("/console/ec2/instances/launch").await;
        b.fill("#Name", "with-existing").await;
        b.wait_for("#KeyName").await.select_by_value("existing").await.expect("choose the key pair");
        b.snapshot("launch").await;
        b.submit("#launch-submit").await;
        let first = launched_id(&b.text("#notice").await);

        // With "Create new key pair": the key is downloaded, then the instance launches with it.
        b.goto("/console/ec2/instances/launch").await;
        b.fill("#Name", "with-new").await;
        b.wait_for("#KeyName").await.select_by_label("Create new key pair").await.expect("choose create");
        b.fill("#NewKeyName", "wizard-key").await;
        b.click("#NewKeyType-ed25519").await;
        b.submit("#launch-submit").await;
        let new_key = b.downloaded("wizard-key.pem").await;
        let second = launched_id(&b.text("#notice").await);
        b.snapshot("instances").await;

        for (id, key) in [(&first, &existing), (&second, &new_key)] {
            wait_for_state(&server, id, "running");
            std::fs::set_permissions(key, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
            let address = describe(&server, id)["PublicIpAddress"].as_str().unwrap().to_owned();
            assert_eq!(ssh_ok(&server, key, &address, "whoami"), "ec2-user\n");
        }
        assert_eq!(describe(&server, &second)["KeyName"], "wizard-key");
        for (id, group) in [(&first, "launch-wizard-1"), (&second, "launch-wizard-2")] {
            assert_eq!(describe(&server, id)["SecurityGroups"][0]["GroupName"], group);
        }
        let wizard = json(&server.aws_ok("ec2 describe-security-groups --group-names launch-wizard-1"));
        let wizard = &wizard["SecurityGroups"][0];
        assert!(wizard["Description"].as_str().unwrap().starts_with("launch-wizard-1 created 20"), "{wizard}");
        assert_eq!(wizard["IpPermissions"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");
        assert_eq!(wizard["IpPermissions"][0]["FromPort"], 22);
        let tags = describe(&server, &second)["Tags"].clone();
        assert_eq!(tags, json!([{"Key": "Name", "Value": "with-new"}]));

        // The details page: the key pair, the exact ssh lines, and a note once the key pair is gone.
        let address = describe(&server, &first)["PublicIpAddress"].as_str().unwrap().to_owned();
        server.aws_ok("ec2 delete-key-pair --key-name existing");
        b.goto(&format!("/console/ec2/instances/{first}")).await;
        assert_eq!(
            b.text("#ssh-lines").await,
            format!("chmod 400 existing.pem\nssh -i existing.pem ec2-user@{address} -p {}", server.ssh_port)
        );
        assert!(b.text("#key-missing").await.contains("no longer exists"));
        // Where it is and how it is, as DescribeInstances and DescribeInstanceStatus say.
        let described = describe(&server, &first);
        assert_eq!(b.text("#status-checks").await, "2/2 checks passed");
        assert_eq!(b.text("#zone").await, described["Placement"]["AvailabilityZone"].as_str().unwrap());
        assert_eq!(b.text("#vpc-id").await, described["VpcId"].as_str().unwrap());
        assert_eq!(b.text("#subnet-id").await, described["SubnetId"].as_str().unwrap());
        assert_eq!(b.text("#public-dns").await, described["PublicDnsName"].as_str().unwrap());
        let log = json(&server.aws_ok(&format!("ec2 get-console-output --instance-id {first}")))["Output"].clone();
        b.click("#system-log-panel summary").await;
        assert_eq!(b.text("#system-log").await.trim(), log.as_str().unwrap().trim(), "the system log, as the API's");
        b.snapshot("instance").await;

        // Event history: the console's own launch, and the SSH logins, each openable as its record.
        b.goto("/console/cloudtrail/events").await;
        b.wait_for("#AttributeKey").await.select_by_value("EventName").await.expect("choose the attribute");
        b.fill("#AttributeValue", "RunInstances").await;
        b.submit("#events-submit").await;
        b.wait_for("#events tr[data-name=RunInstances]").await;
        assert_eq!(b.client.find_all(Locator::Css("#events tbody tr")).await.unwrap().len(), 2);
        b.goto("/console/cloudtrail/events?AttributeKey=EventName&AttributeValue=SSHAuthentication").await;
        b.snapshot("events").await;
        b.submit("#events tr[data-name=SSHAuthentication] a").await;
        let record: serde_json::Value = serde_json::from_str(&b.text("#event-record").await).expect("a JSON record");
        assert_eq!(record["eventSource"], "ssh.keyfleet");
        b.goto("/console/cloudtrail/events?AttributeKey=EventName&AttributeValue=RunInstances").await;
        b.submit("#events tr[data-name=RunInstances] a").await;
        let record: serde_json::Value = serde_json::from_str(&b.text("#event-record").await).expect("a JSON record");
        assert!(record["userAgent"].as_str().unwrap().starts_with("keyfleet-console ("), "{record}");
        b.snapshot("event").await;

        // Stop, start and terminate, each confirmed.
        for (action, state) in [("#stop", "stopped"), ("#start", "running"), ("#terminate", "terminated")] {
            b.goto("/console/ec2/instances").await;
            b.click(&format!("tr[data-id={first}] input[type=checkbox]")).await;
            b.submit(action).await;
            b.submit("#confirm-change").await;
            b.wait_for("#notice").await;
            wait_for_state(&server, &first, state);
        }
    });
}

/// The instance id in the launch notice ("Launched i-….").
fn launched_id(notice: &str) -> String {
    let id = notice.split_whitespace().find(|w| w.starts_with("i-")).expect("an instance id");
    id.trim_end_matches(['.', ',']).to_owned()
}

#[test]
fn reset_access_from_the_instance_page_then_the_key_from_parameter_store_as_in_seed_004() {
    if !browser_available() || !require(&crate::instances::TOOLS) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let (instance, address) = crate::reset_access::launch_and_lose_key(&server);

    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto(&format!("/console/ec2/instances/{instance}")).await;
        b.submit("#reset-access-submit").await;
        // The execution's page updates itself while the steps run.
        b.wait_for("#step-executions").await;
        b.snapshot("automation-execution").await;
        b.until("the execution ends", async || {
            let Ok(status) = b.client.find(Locator::Css("#execution-status")).await else { return false };
            status.text().await.is_ok_and(|s| s == "Success" || s == "Failed")
        })
        .await;
        assert_eq!(b.text("#execution-status").await, "Success");
        assert_eq!(b.text("tr[data-step=startInstance] .status").await, "Success");
        b.snapshot("automation-done").await;
        b.goto("/console/ssm/automation").await;
        assert_eq!(b.client.find_all(Locator::Css("#executions tbody tr")).await.unwrap().len(), 1);
        b.goto("/console/ssm/automation/execute").await;
        b.snapshot("automation-execute").await;

        // Parameter Store: the new key is a SecureString, hidden until asked for.
        b.goto("/console/ssm/parameters").await;
        b.snapshot("parameters").await;
        let name = format!("/ec2rl/openssh/{instance}/key");
        b.submit(&format!("tr[data-name='{name}'] a")).await;
        assert_eq!(b.text("#parameter-type").await, "SecureString");
        assert!(b.client.find(Locator::Css("#parameter-value")).await.is_err(), "hidden until asked");
        // The picture is taken before the secret is shown: no private key in the docs.
        b.snapshot("parameter").await;
        b.submit("#show-decrypted").await;
        let key = b.text("#parameter-value").await;
        assert!(key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"), "{key}");
        let path = server.dir.path().join("recovered.pem");
        std::fs::write(&path, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        assert_eq!(crate::instances::ssh_ok(&server, &path, &address, "whoami"), "ec2-user\n");

        // Create, edit and delete a parameter.
        b.goto("/console/ssm/parameters/create").await;
        b.fill("#Name", "/app/color").await;
        b.fill("#Value", "blue").await;
        b.submit("#parameter-submit").await;
        assert_eq!(b.text("#parameter-value").await, "blue");
        b.submit("#edit-parameter").await;
        b.fill("#Value", "green").await;
        b.submit("#parameter-submit").await;
        assert_eq!(b.text("#parameter-value").await, "green");
        assert_eq!(b.text("#parameter-tier").await, "Standard");
        // Labels on a version, from the history: the newest is offered first.
        b.fill("#Labels", "prod").await;
        b.submit("#attach-labels").await;
        assert_eq!(b.text("tr[data-version='2'] .labels").await, "prod");
        let labelled = json(&server.aws_ok("ssm get-parameter --name /app/color:prod"));
        assert_eq!(labelled["Parameter"]["Value"], "green");
        b.fill("#Labels", "1st").await;
        b.submit("#attach-labels").await;
        assert!(b.text(".problem").await.contains("Not attached: 1st"));
        b.fill("#confirm", "delete").await;
        b.submit("#delete-parameter").await;
        assert!(b.text("#notice").await.contains("Deleted /app/color"));
    });
    server.aws_err("ssm get-parameter --name /app/color", "ParameterNotFound");
}

#[test]
fn iam_users_keys_passwords_and_policies() {
    if !browser_available() {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let account = server_account(&server);

    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/iam/users").await;
        b.fill("#UserName", "erin").await;
        b.submit("#create-user").await;
        assert_eq!(b.text("h1").await, "User erin");

        // A new access key's secret is shown once, on the answer to the form, and it signs.
        b.submit("#create-access-key").await;
        let erin = crate::support::Identity::key(b.text("#new-key-id").await, b.text("#new-key-secret").await);
        server.aws_err_as(&erin, "ec2 describe-key-pairs", "UnauthorizedOperation");
        b.goto("/console/iam/users/view?UserName=erin").await;
        assert!(b.client.find(Locator::Css("#new-key-secret")).await.is_err(), "the secret is never shown again");
        b.snapshot("iam-user").await;

        // A malformed policy is refused with IAM's error, and the draft is kept.
        b.fill("#PolicyName", "keys").await;
        b.fill("#PolicyDocument", r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow""#).await;
        b.submit("#put-policy").await;
        assert!(b.text("#problem").await.contains("MalformedPolicyDocument"));
        assert!(b.wait_for("#PolicyDocument").await.prop("value").await.unwrap().unwrap().contains("Statement"));
        let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeKeyPairs", "Resource": "*"}]}"#;
        b.fill("#PolicyDocument", policy).await;
        b.submit("#put-policy").await;
        b.wait_for("form.policy[data-policy=keys]").await;
        server.aws_ok_as(&erin, "ec2 describe-key-pairs");

        // A console password, then sign in with it.
        b.fill("#Password", "Erins-passw0rd!").await;
        b.submit("#set-password").await;
        assert!(b.text("#password-state").await.starts_with("Enabled"));

        // IAM refuses to delete a user that still has keys, a password and policies.
        b.submit("#delete-user-submit").await;
        assert!(b.text("#problem").await.contains("DeleteConflict"));

        b.submit("#sign-out").await;
        b.sign_in_with_password(&account, "erin", "Erins-passw0rd!").await;
        assert_eq!(b.text("#identity").await, format!("erin @ {account}"));
        b.goto("/console/iam/users").await;
        assert!(b.text("#problem").await.contains("You are not authorized to perform this operation."));

        // A new password set by an administrator ends the sessions of the old one.
        server.aws_argv_as(
            &server.admin(),
            &["iam", "update-login-profile", "--user-name", "erin", "--password", "Erins-new-passw0rd!"],
        );
        b.goto("/console/ec2/key-pairs").await;
        b.wait_for("#sign-in-password").await;
        b.sign_in_with_password(&account, "erin", "Erins-new-passw0rd!").await;
        assert_eq!(b.text("#identity").await, format!("erin @ {account}"));

        // Removing the password ends the sessions signed in with it.
        assert_eq!(json(&server.aws_ok("iam get-login-profile --user-name erin"))["LoginProfile"]["UserName"], "erin");
        server.aws_ok("iam delete-login-profile --user-name erin");
        b.goto("/console/ec2/key-pairs").await;
        b.wait_for("#sign-in-password").await;

        // So does deleting the access key a session was signed in with.
        b.sign_in_with_key(&erin.id, &erin.secret).await;
        assert_eq!(b.text("#identity").await, format!("erin @ {account}"));
        server.aws_ok(&format!("iam delete-access-key --user-name erin --access-key-id {}", erin.id));
        b.goto("/console/ec2/key-pairs").await;
        b.wait_for("#sign-in-key").await;
    });
}

#[test]
fn sign_in_attempts_are_limited_per_source_and_headers_forbid_framing_and_inline_script() {
    if !require(&["curl"]) {
        return;
    }
    let server = TestServer::start();
    let url = format!("{}/console/signin", server.url);
    let attempt = || {
        run_ok(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-d",
                "AccessKeyId=AKIAWRONGWRONGWRONG0&SecretAccessKey=x",
                &url,
            ],
        )
    };
    let codes: Vec<String> = (0..11).map(|_| attempt()).collect();
    assert!(codes[..10].iter().all(|c| c == "401"), "{codes:?}");
    assert_eq!(codes[10], "429", "the eleventh attempt in a burst");

    let headers =
        run_ok("curl", &["-s", "-o", "/dev/null", "-D", "-", &format!("{}/console/", server.url)]).to_lowercase();
    for expected in [
        "content-security-policy: default-src 'none'; script-src 'self';",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
    ] {
        assert!(headers.contains(expected), "{expected} in\n{headers}");
    }
    assert!(!headers.contains("unsafe-inline"), "{headers}");
}

/// EC2 → Security Groups: create a group, open and close SSH on it, delete it; each form
/// is the EC2 action it names, and a refusal shows EC2's error.
#[test]
fn security_groups_page_creates_opens_closes_and_deletes() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start_with(crate::support::Options { firewalled: true, ..Default::default() });
    let admin = server.admin();
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/ec2/security-groups").await;
        assert!(b.text("section[data-group-name=default]").await.contains("Inbound rules"));
        b.fill("#GroupName", "web").await;
        b.fill("#GroupDescription", "web servers").await;
        b.submit("#create-group").await;
        assert!(b.text("#notice").await.contains("CreateSecurityGroup succeeded"));
        let group = json(&server.aws_ok("ec2 describe-security-groups --group-names web"))["SecurityGroups"][0].clone();
        let id = group["GroupId"].as_str().unwrap().to_owned();
        assert_eq!(group["IpPermissions"], serde_json::json!([]));

        b.submit("section[data-group-name=web] .add-rule-submit").await;
        let rules =
            json(&server.aws_ok(&format!("ec2 describe-security-group-rules --filters Name=group-id,Values={id}")));
        let inbound: Vec<&serde_json::Value> =
            rules["SecurityGroupRules"].as_array().unwrap().iter().filter(|r| r["IsEgress"] == false).collect();
        assert_eq!(inbound.len(), 1, "{rules}");
        assert_eq!((inbound[0]["FromPort"].clone(), inbound[0]["CidrIpv4"].clone()), (json!(22), json!("0.0.0.0/0")));
        b.snapshot("security-groups").await;

        // The same rule again is EC2's duplicate error, shown on the page.
        b.submit("section[data-group-name=web] .add-rule-submit").await;
        assert!(b.text(".problem").await.contains("InvalidPermission.Duplicate"));

        b.goto("/console/ec2/security-groups").await;
        b.submit("section[data-group-name=web] .remove-rule").await;
        let after = json(&server.aws_ok("ec2 describe-security-groups --group-names web"));
        assert_eq!(after["SecurityGroups"][0]["IpPermissions"], serde_json::json!([]));
        b.submit("section[data-group-name=web] .delete-group").await;
        server.aws_err("ec2 describe-security-groups --group-names web", "InvalidGroup.NotFound");
    });
}

/// The instance page shows termination protection and turns it on and off through
/// ModifyInstanceAttribute; with it on, terminating is EC2's error; a stopped instance shows
/// why it stopped.
#[test]
fn the_instance_page_sets_termination_protection_and_shows_why_it_stopped() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let id = json(&server.aws_ok("ec2 run-instances --image-id ami-0f5e8a2b9c3d71e46"))["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto(&format!("/console/ec2/instances/{id}")).await;
        assert_eq!(b.text("#termination-protection").await, "Disabled");
        b.submit("#termination-protection-toggle").await;
        assert_eq!(b.text("#termination-protection").await, "Enabled");
        server.aws_err(&format!("ec2 terminate-instances --instance-ids {id}"), "OperationNotPermitted");
        b.submit("#termination-protection-toggle").await;
        assert_eq!(b.text("#termination-protection").await, "Disabled");
        server.aws_ok(&format!("ec2 stop-instances --instance-ids {id}"));
        crate::instances::wait_for_state(&server, &id, "stopped");
        b.goto(&format!("/console/ec2/instances/{id}")).await;
        let reason = b.text("#state-reason").await;
        assert!(reason.starts_with("User initiated (") && reason.ends_with(" GMT)"), "{reason}");
    });
}

/// The Volumes page lists attached and kept volumes, and deletes a kept one; the instance page
/// says whether its root volume outlives it.
#[test]
fn the_volumes_page_shows_kept_volumes_and_deletes_them() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let keep = r#"[{"DeviceName":"/dev/xvda","Ebs":{"DeleteOnTermination":false}}]"#;
    let out = json(
        &server.aws_ok(&format!("ec2 run-instances --image-id ami-0f5e8a2b9c3d71e46 --block-device-mappings {keep}")),
    );
    let id = out["Instances"][0]["InstanceId"].as_str().unwrap().to_owned();
    let volume = out["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].as_str().unwrap().to_owned();
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto(&format!("/console/ec2/instances/{id}")).await;
        let details = b.text("main").await;
        assert!(details.contains(&format!("{volume}, 8 GiB, kept after termination")), "{details}");
        b.goto("/console/ec2/volumes").await;
        let row = format!("tr[data-volume-id='{volume}']");
        assert_eq!(b.text(&format!("{row} .state")).await, "in-use");
        server.aws_ok(&format!("ec2 terminate-instances --instance-ids {id}"));
        crate::instances::wait_for_state(&server, &id, "terminated");
        b.goto("/console/ec2/volumes").await;
        assert_eq!(b.text(&format!("{row} .state")).await, "available");
        b.snapshot("volumes").await;
        b.submit(&format!("{row} button.delete-volume")).await;
        assert_eq!(b.text("#notice").await, format!("Volume {volume} is being deleted."));
        assert!(b.text("main").await.contains("No volumes."));
    });
    server.aws_err(&format!("ec2 describe-volumes --volume-ids {volume}"), "InvalidVolume.NotFound");
}

/// IAM → Roles: a role for Automation is created trusting Systems Manager, gets AWS's
/// AmazonSSMAutomationRole attached, and is refused deletion until it is detached.
#[test]
fn the_roles_page_creates_a_role_for_automation_and_attaches_policies() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let account = server_account(&server);
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/iam/roles").await;
        b.fill("#RoleName", "EC2Rescue").await;
        b.submit("#create-role").await;
        assert_eq!(b.text("h1").await, "EC2Rescue");
        assert_eq!(b.text("#role-arn").await, format!("arn:aws:iam::{account}:role/EC2Rescue"));
        let trust =
            json(&server.aws_ok("iam get-role --role-name EC2Rescue"))["Role"]["AssumeRolePolicyDocument"].clone();
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ssm.amazonaws.com");
        b.wait_for("#PolicyArn")
            .await
            .select_by_value("arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole")
            .await
            .unwrap();
        b.submit("#attach").await;
        b.wait_for("#attached tr[data-policy=AmazonSSMAutomationRole]").await;
        b.snapshot("iam-role").await;
        let attached = json(&server.aws_ok("iam list-attached-role-policies --role-name EC2Rescue"));
        assert_eq!(attached["AttachedPolicies"][0]["PolicyName"], "AmazonSSMAutomationRole");
        b.submit("#delete-role-submit").await;
        assert!(b.text("#problem").await.contains("Cannot delete entity, must detach all policies first."));
        b.submit("#attached button.detach").await;
        b.submit("#delete-role-submit").await;
        assert_eq!(b.text("#notice").await, "Deleted role EC2Rescue.");
        assert_eq!(b.text("#empty").await, "No roles in this account.");
    });
    server.aws_err("iam get-role --role-name EC2Rescue", "NoSuchEntity");
}

/// Seed 004's console steps: CloudFormation → Create stack from the EC2Rescue template's S3
/// URL with a stack name and the IAM acknowledgement; the stack's page follows it to
/// CREATE_COMPLETE and shows the AssumeRole output, whose ARN Automation's execute form
/// takes; the run succeeds as that role. Then a pasted template that fails rolls back, and
/// the stack is deleted from its page.
#[test]
fn the_stacks_pages_create_the_rescue_role_stack_and_its_output_runs_reset_access() {
    if !browser_available() || !require(&crate::instances::TOOLS) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let (instance, _) = crate::reset_access::launch_and_lose_key(&server);
    let url = "https://s3.amazonaws.com/awssupport-ssm.us-east-2/cfn/EC2Rescue/AWSSupport-EC2RescueRole.template";

    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/cloudformation/stacks").await;
        assert_eq!(b.text("#empty").await, "No stacks in us-east-1.");
        b.submit("#create-stack").await;
        b.fill("#TemplateURL", url).await;
        b.fill("#StackName", "EC2Rescue").await;
        // Without the acknowledgement CloudFormation refuses, as AWS's console would.
        b.submit("#create-stack-submit").await;
        assert!(b.text("#problem").await.contains("Requires capabilities : [CAPABILITY_IAM]"));
        b.click("#capability-iam").await;
        b.submit("#create-stack-submit").await;
        assert_eq!(b.text("h1").await, "EC2Rescue");
        b.until("the stack is created", async || {
            let Ok(status) = b.client.find(Locator::Css("#stack-status")).await else { return false };
            status.text().await.is_ok_and(|s| s == "CREATE_COMPLETE")
        })
        .await;
        b.snapshot("cloudformation-stack").await;
        let role = b.text("#outputs tr[data-key=AssumeRole] .value").await;
        assert!(role.contains(":role/EC2Rescue-AssumeRole-"), "{role}");
        assert_eq!(b.text("#resources tr[data-logical=AssumeRole] .status").await, "CREATE_COMPLETE");

        b.goto("/console/ssm/automation/execute").await;
        b.fill("#AutomationAssumeRole", &role).await;
        if let Ok(select) = b.client.find(Locator::Css("select#InstanceId")).await {
            select.select_by_value(&instance).await.unwrap();
        } else {
            b.fill("#InstanceId", &instance).await;
        }
        b.submit("#execute-submit").await;
        b.until("the execution ends", async || {
            let Ok(status) = b.client.find(Locator::Css("#execution-status")).await else { return false };
            status.text().await.is_ok_and(|s| s == "Success" || s == "Failed")
        })
        .await;
        assert_eq!(b.text("#execution-status").await, "Success");

        // A pasted template whose instance cannot launch: rolled back, with the reason.
        b.goto("/console/cloudformation/stacks/create").await;
        b.fill(
            "#TemplateBody",
            r#"{"Resources": {"Key": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "console-key"}}, "Server": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-00000000000000000", "KeyName": {"Ref": "Key"}}}}}"#,
        )
        .await;
        b.fill("#StackName", "broken").await;
        b.submit("#create-stack-submit").await;
        b.until("the stack rolls back", async || {
            let Ok(status) = b.client.find(Locator::Css("#stack-status")).await else { return false };
            status.text().await.is_ok_and(|s| s == "ROLLBACK_COMPLETE")
        })
        .await;
        assert_eq!(
            b.text("#stack-reason").await,
            "The following resource(s) failed to create: [Server]. Rollback requested by user."
        );
        b.snapshot("cloudformation-rollback").await;
        b.submit("#delete-stack").await;
        b.until("the stack is deleted", async || {
            let Ok(status) = b.client.find(Locator::Css("#stack-status")).await else { return false };
            status.text().await.is_ok_and(|s| s == "DELETE_COMPLETE")
        })
        .await;
        b.goto("/console/cloudformation/stacks").await;
        assert_eq!(b.text("#stacks tr[data-name=EC2Rescue] .status").await, "CREATE_COMPLETE");
        assert!(
            b.client.find(Locator::Css("#stacks tr[data-name=broken]")).await.is_err(),
            "deleted stacks leave the list"
        );
        b.snapshot("cloudformation-stacks").await;
    });
    server.aws_err("ec2 describe-key-pairs --key-names console-key", "InvalidKeyPair.NotFound");
}

/// A role for EC2 made in the console comes with its instance profile, as AWS's console makes
/// one; the role's page shows it, and deleting the role takes both.
#[test]
fn an_ec2_role_made_in_the_console_has_its_instance_profile() {
    if !browser_available() {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    let account = server_account(&server);
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/iam/roles").await;
        b.fill("#RoleName", "web-server").await;
        b.wait_for("#Trusted").await.select_by_value("ec2.amazonaws.com").await.unwrap();
        b.submit("#create-role").await;
        assert_eq!(b.text("h1").await, "web-server");
        assert_eq!(b.text(".instance-profile").await, format!("arn:aws:iam::{account}:instance-profile/web-server"));
        let profile = json(&server.aws_ok("iam get-instance-profile --instance-profile-name web-server"));
        assert_eq!(profile["InstanceProfile"]["Roles"][0]["RoleName"], "web-server");
        b.submit("#delete-role-submit").await;
        assert_eq!(b.text("#notice").await, "Deleted role web-server.");
    });
    server.aws_err("iam get-instance-profile --instance-profile-name web-server", "NoSuchEntity");
    server.aws_err("iam get-role --role-name web-server", "NoSuchEntity");
}

/// EC2 → Launch Templates: a template made with a key pair, a new version with another key
/// made the default, an instance launched from the template with that key, and the template
/// deleted; each step is the API's answer.
#[test]
fn the_launch_templates_page_versions_a_template_and_launches_from_it() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    server.aws_ok("ec2 create-key-pair --key-name fleet-a");
    server.aws_ok("ec2 create-key-pair --key-name fleet-b");
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/ec2/launch-templates").await;
        b.fill("#LaunchTemplateName", "web").await;
        b.fill("#VersionDescription", "first").await;
        b.wait_for("#KeyName").await.select_by_value("fleet-a").await.expect("choose the key pair");
        b.submit("#create-template").await;
        assert!(b.text("#notice").await.contains("CreateLaunchTemplate succeeded"));
        let listed = json(&server.aws_ok("ec2 describe-launch-templates --launch-template-names web"));
        let id = listed["LaunchTemplates"][0]["LaunchTemplateId"].as_str().unwrap().to_owned();

        let section = "section[data-template-name=web]";
        b.wait_for(&format!("{section} .new-version select[name=KeyName]"))
            .await
            .select_by_value("fleet-b")
            .await
            .expect("choose the new key pair");
        b.submit(&format!("{section} .new-version-submit")).await;
        assert!(b.text(&format!("{section} tr[data-version='2'] .key-name")).await.contains("fleet-b"));
        b.submit(&format!("{section} tr[data-version='2'] .set-default")).await;
        assert_eq!(b.text(&format!("{section} .default-version")).await, "2");
        b.snapshot("launch-templates").await;

        // Version 1 is no longer the default, so it can go; the default offers no delete.
        assert!(b.client.find(Locator::Css(&format!("{section} tr[data-version='2'] .delete-version"))).await.is_err());
        b.submit(&format!("{section} tr[data-version='1'] .delete-version")).await;
        assert!(b.text("#notice").await.contains("DeleteLaunchTemplateVersions succeeded"));

        b.submit(&format!("{section} .launch-from-template")).await;
        assert!(b.text("#notice").await.contains("RunInstances succeeded"));
        let launched = json(
            &server.aws_ok(&format!("ec2 describe-instances --filters Name=tag:aws:ec2launchtemplate:id,Values={id}")),
        );
        assert_eq!(launched["Reservations"][0]["Instances"][0]["KeyName"], "fleet-b", "{launched}");

        b.submit(&format!("{section} .delete-template")).await;
        assert!(b.text("#notice").await.contains("DeleteLaunchTemplate succeeded"));
        server.aws_err(
            &format!("ec2 delete-launch-template --launch-template-id {id}"),
            "InvalidLaunchTemplateId.NotFound",
        );
    });
}

/// EC2 → Auto Scaling Groups: a group made from a launch template fills up; with its key
/// pair deleted, the replacement of a terminated instance fails, and the failed activity
/// is shown in red with AWS's message; the group is deleted with its instances.
#[test]
fn the_auto_scaling_page_shows_a_failed_launch_in_red_with_its_message() {
    if !browser_available() || !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let admin = server.admin();
    server.aws_ok("ec2 create-key-pair --key-name seed-003");
    server.aws_ok(
        "ec2 create-launch-template --launch-template-name web \
         --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=seed-003",
    );
    with_browser(&server, async |b| {
        b.sign_in_with_key(&admin.id, &admin.secret).await;
        b.goto("/console/ec2/auto-scaling").await;
        b.fill("#AutoScalingGroupName", "web").await;
        b.fill("#MinSize", "2").await;
        b.fill("#DesiredCapacity", "2").await;
        b.fill("#MaxSize", "3").await;
        b.submit("#create-group").await;
        assert!(b.text("#notice").await.contains("CreateAutoScalingGroup succeeded"));
        let group = crate::auto_scaling::group_until(&server, "web", "2 in service", |g| {
            crate::auto_scaling::in_service(g).len() == 2
        });
        let victim = crate::auto_scaling::in_service(&group)[0].clone();

        server.aws_ok("ec2 delete-key-pair --key-name seed-003");
        server.aws_ok(&format!("ec2 terminate-instances --instance-ids {victim}"));
        b.until("a failed launch is listed", async || {
            b.goto("/console/ec2/auto-scaling").await;
            b.client.find(Locator::Css("section[data-group-name=web] tr.activity-failed")).await.is_ok()
        })
        .await;
        let failed = b.text("section[data-group-name=web] tr.activity-failed .activity-message").await;
        assert_eq!(failed, "The key pair 'seed-003' does not exist. Launching EC2 instance failed.");
        let color = b
            .wait_for("section[data-group-name=web] tr.activity-failed td.status")
            .await
            .css_value("color")
            .await
            .unwrap();
        assert_eq!(color, "rgba(209, 50, 18, 1)", "shown in the danger red");
        b.snapshot("auto-scaling").await;

        b.submit("section[data-group-name=web] .delete-group").await;
        assert!(b.text("#notice").await.contains("DeleteAutoScalingGroup succeeded"));
    });
}
