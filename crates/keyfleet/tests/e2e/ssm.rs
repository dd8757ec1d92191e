//! Parameter Store with the real aws CLI: versions, paths, SecureString encrypted at rest.

use crate::support::{TestServer, json, require};

#[test]
fn parameters_have_versions_paths_and_aws_errors() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    assert_eq!(
        json(&server.aws_ok("ssm put-parameter --name welcome --type String --value helloWorld")),
        serde_json::json!({"Version": 1, "Tier": "Standard"})
    );
    let stderr =
        server.aws_err("ssm put-parameter --name welcome --type String --value again", "ParameterAlreadyExists");
    assert!(stderr.contains(
        "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
    ));
    assert_eq!(json(&server.aws_ok("ssm put-parameter --name welcome --value sunshine --overwrite"))["Version"], 2);
    let got = json(&server.aws_ok("ssm get-parameter --name welcome"))["Parameter"].clone();
    assert_eq!(got["Value"], "sunshine");
    assert_eq!(got["Type"], "String");
    assert!(got["ARN"].as_str().unwrap().ends_with(":parameter/welcome"));
    assert!(got["LastModifiedDate"].as_f64().unwrap() > 1.7e9, "epoch seconds");
    assert_eq!(json(&server.aws_ok("ssm get-parameter --name welcome:1"))["Parameter"]["Value"], "helloWorld");

    // ParameterNotFound carries no message at all, as real SSM sends it.
    let stderr = server.aws_err("ssm get-parameter --name /nope", "ParameterNotFound");
    assert!(stderr.trim_end().ends_with("when calling the GetParameter operation:"), "{stderr}");
    server.aws_err("ssm get-parameter --name welcome:9", "ParameterVersionNotFound");
    server.aws_err("ssm put-parameter --name awsy --type String --value v", "ValidationException");
    server.aws_err("ssm put-parameter --name fresh --value v", "ValidationException");

    for (name, value) in
        [("/site/ny/dept/marketing", "Floor 2"), ("/site/ny/dept/sales", "Floor 3"), ("/site/ny/x", "top")]
    {
        server.aws_ok(&format!("ssm put-parameter --name {name} --type String --value {}", value.replace(' ', "_")));
    }
    let direct = json(&server.aws_ok("ssm get-parameters-by-path --path /site/ny --query Parameters[].Name"));
    assert_eq!(direct, serde_json::json!(["/site/ny/x"]), "non-recursive: direct children only");
    let all = json(&server.aws_ok("ssm get-parameters-by-path --path /site/ny/ --recursive --query Parameters[].Name"));
    assert_eq!(all.as_array().unwrap().len(), 3);
    server.aws_err("ssm get-parameters-by-path --path /site --max-results 11", "ValidationException");

    let many = json(&server.aws_ok("ssm get-parameters --names welcome /nope"));
    assert_eq!(many["InvalidParameters"], serde_json::json!(["/nope"]));
    assert_eq!(many["Parameters"][0]["Name"], "welcome");
    let history = json(&server.aws_ok("ssm get-parameter-history --name welcome --query Parameters[].Value"));
    assert_eq!(history, serde_json::json!(["helloWorld", "sunshine"]));
    assert_eq!(server.aws_ok("ssm delete-parameter --name welcome"), "", "an empty result prints nothing");
    server.aws_err("ssm delete-parameter --name welcome", "ParameterNotFound");
    let deleted = json(&server.aws_ok("ssm delete-parameters --names /site/ny/x /nope"));
    assert_eq!(deleted, serde_json::json!({"DeletedParameters": ["/site/ny/x"], "InvalidParameters": ["/nope"]}));
}

#[test]
fn secure_strings_are_encrypted_at_rest() {
    if !require(&["aws"]) {
        return;
    }
    let mut server = TestServer::start();
    let secret = "correct-horse-battery-staple-7f3a";
    server.aws_ok(&format!("ssm put-parameter --name /app/secret --type SecureString --value {secret}"));
    let sealed =
        json(&server.aws_ok("ssm get-parameter --name /app/secret"))["Parameter"]["Value"].as_str().unwrap().to_owned();
    assert_ne!(sealed, secret, "without WithDecryption the value is ciphertext");
    assert!(sealed.len() > secret.len() + 60);
    let opened = json(&server.aws_ok("ssm get-parameter --name /app/secret --with-decryption"));
    assert_eq!(opened["Parameter"]["Value"], secret);
    let described = json(&server.aws_ok("ssm describe-parameters"));
    assert_eq!(described["Parameters"][0]["KeyId"], "alias/aws/ssm");
    assert!(described["Parameters"][0].get("Value").is_none());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.data_dir().join("master.key")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    server.stop();
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "plaintext in {}", path.display());
    }
    assert!(!server.log().contains(secret), "plaintext in the log");
}

/// DescribeParameters answers its filters (the old `Filters` and `ParameterFilters`), and
/// GetParametersByPath its `ParameterFilters`: a "list by prefix, then delete" script sees
/// only what it asked for. Filters keyfleet cannot answer get SSM's errors.
#[test]
fn parameter_filters_select_and_bad_filters_are_refused() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    for (name, kind) in
        [("/app/db", "String"), ("/app/x/deep", "String"), ("/app/key", "SecureString"), ("/other/y", "String")]
    {
        server.aws_ok(&format!("ssm put-parameter --name {name} --type {kind} --value v"));
    }
    let names = |args: &str| -> Vec<String> {
        let out = json(&server.aws_ok(&format!("ssm {args}")));
        let mut names: Vec<String> =
            out["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(
        names("describe-parameters --parameter-filters Key=Path,Option=OneLevel,Values=/app"),
        ["/app/db", "/app/key"]
    );
    assert_eq!(
        names("describe-parameters --parameter-filters Key=Path,Option=Recursive,Values=/app"),
        ["/app/db", "/app/key", "/app/x/deep"]
    );
    assert_eq!(names("describe-parameters --parameter-filters Key=Name,Option=BeginsWith,Values=/oth"), ["/other/y"]);
    assert_eq!(names("describe-parameters --parameter-filters Key=Type,Values=SecureString"), ["/app/key"]);
    assert_eq!(names("describe-parameters --filters Key=Name,Values=/app/db"), ["/app/db"]);
    assert!(names("describe-parameters --parameter-filters Key=tag:env,Values=prod").is_empty());
    assert_eq!(
        names("get-parameters-by-path --path /app --recursive --parameter-filters Key=Type,Values=String"),
        ["/app/db", "/app/x/deep"]
    );
    server.aws_err("ssm describe-parameters --parameter-filters Key=Owner,Values=me", "InvalidFilterKey");
    server.aws_err(
        "ssm describe-parameters --parameter-filters Key=Type,Option=BeginsWith,Values=S",
        "InvalidFilterOption",
    );
    server.aws_err("ssm describe-parameters --parameter-filters Key=Type,Values=Secret", "InvalidFilterValue");
    server.aws_err(
        "ssm describe-parameters --filters Key=Name,Values=/app/db --parameter-filters Key=Type,Values=String",
        "ValidationException",
    );
    server.aws_err(
        "ssm get-parameters-by-path --path /app --parameter-filters Key=Name,Values=/app/db",
        "InvalidFilterKey",
    );
}

/// What PutParameter does not implement yet is refused, never dropped: a tag that was
/// silently lost would make a later tag-based policy or lookup wrong.
/// Policies need the Advanced tier, are reported as SSM reports them, and an Expiration
/// deletes the parameter (by a periodic scan, as SSM's).
#[test]
fn policies_expire_parameters_and_need_the_advanced_tier() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let expiring_in = |seconds: i64| {
        let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
        let stamp = at.format(&time::format_description::well_known::Rfc3339).unwrap();
        format!(
            r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{stamp}"}}}},{{"Type":"NoChangeNotification","Version":"1.0","Attributes":{{"After":"30","Unit":"Days"}}}}]"#
        )
    };
    let policies = expiring_in(3600);
    let put = |tier: &str, policies: &str| {
        server.aws_argv_as(
            &server.admin(),
            &[
                "ssm",
                "put-parameter",
                "--name",
                "/t/a",
                "--value",
                "v",
                "--type",
                "String",
                "--tier",
                tier,
                "--policies",
                policies,
            ],
        )
    };
    let standard = put("Standard", &policies);
    assert!(String::from_utf8_lossy(&standard.stderr).contains("(ValidationException)"), "{standard:?}");
    let unknown = put("Advanced", r#"[{"Type":"Archive","Version":"1.0","Attributes":{}}]"#);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("(InvalidPolicyTypeException)"), "{unknown:?}");
    let stored = put("Advanced", &policies);
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let described = json(&server.aws_ok("ssm describe-parameters --parameter-filters Key=Name,Values=/t/a"));
    let reported = &described["Parameters"][0]["Policies"];
    assert_eq!(reported[0]["PolicyType"], "Expiration", "{described}");
    assert_eq!(reported[0]["PolicyStatus"], "Pending");
    assert_eq!(reported[1]["PolicyType"], "NoChangeNotification");
    // An overwrite names a nearer time; the parameter goes once it has passed (polled: the
    // sweep runs every few seconds).
    let nearer = server.aws_argv_as(
        &server.admin(),
        &["ssm", "put-parameter", "--name", "/t/a", "--value", "w", "--overwrite", "--policies", &expiring_in(2)],
    );
    assert!(nearer.status.success(), "{}", String::from_utf8_lossy(&nearer.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.aws("ssm get-parameter --name /t/a").status.success() {
        assert!(std::time::Instant::now() < deadline, "the expired parameter is still there");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    server.aws_err(
        "ssm put-parameter --name /t/b --value v --type String --data-type aws:ec2:Image",
        "ValidationException",
    );
}

/// Tiers hold what they hold and never go back; AllowedPattern holds the whole value, also
/// on an overwrite that does not repeat it (the User Guide's example); an aws:ec2:image
/// parameter keeps only an image id.
#[test]
fn tiers_patterns_and_data_types_are_kept_and_enforced() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let big = "x".repeat(5000);
    let too_big =
        server.aws_err(&format!("ssm put-parameter --name /t/big --type String --value {big}"), "ValidationException");
    assert!(too_big.contains("Standard tier parameters support a maximum parameter value of 4096 characters."));
    let smart = json(
        &server
            .aws_ok(&format!("ssm put-parameter --name /t/big --type String --tier Intelligent-Tiering --value {big}")),
    );
    assert_eq!(smart["Tier"], "Advanced");
    let downgrade = server
        .aws_err("ssm put-parameter --name /t/big --value small --overwrite --tier Standard", "ValidationException");
    assert!(downgrade.contains("You can't downgrade a parameter from the advanced-parameter tier"), "{downgrade}");
    assert_eq!(json(&server.aws_ok("ssm put-parameter --name /t/big --value small --overwrite"))["Tier"], "Advanced");
    let described = json(&server.aws_ok("ssm describe-parameters --parameter-filters Key=Tier,Values=Advanced"));
    assert_eq!(described["Parameters"][0]["Name"], "/t/big", "{described}");

    server.aws_ok(r"ssm put-parameter --name /t/count --type String --allowed-pattern \d{1,4} --value 100");
    let mismatch = server
        .aws_err("ssm put-parameter --name /t/count --value 10,000 --overwrite", "ParameterPatternMismatchException");
    assert!(mismatch.contains(r"Parameter value, cannot be validated against allowedPattern: \d{1,4}"), "{mismatch}");
    server.aws_err("ssm put-parameter --name /t/count --value 12345 --overwrite", "ParameterPatternMismatchException");
    server.aws_ok("ssm put-parameter --name /t/count --value 9999 --overwrite");
    let history = json(&server.aws_ok("ssm get-parameter-history --name /t/count"));
    assert_eq!(history["Parameters"][1]["AllowedPattern"], r"\d{1,4}", "{history}");
    server.aws_err(
        "ssm put-parameter --name /t/re --type String --allowed-pattern (?<=a)b --value b",
        "InvalidAllowedPatternException",
    );

    let image = "ssm put-parameter --name /t/ami --type String --data-type aws:ec2:image";
    assert_eq!(json(&server.aws_ok(&format!("{image} --value ami-0123456789abcdef0")))["Version"], 1);
    server.aws_err("ssm get-parameter --name /t/ami", "ParameterNotFound");
    server.aws_ok(&format!("{image} --value ami-0f5e8a2b9c3d71e46"));
    let kept = json(&server.aws_ok("ssm get-parameter --name /t/ami"))["Parameter"].clone();
    assert_eq!(
        (kept["Value"].as_str(), kept["DataType"].as_str()),
        (Some("ami-0f5e8a2b9c3d71e46"), Some("aws:ec2:image"))
    );
}

#[test]
fn parameters_carry_tags_that_go_with_them() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    let list = |name: &str| {
        json(&server.aws_ok(&format!("ssm list-tags-for-resource --resource-type Parameter --resource-id {name}")))
            ["TagList"]
            .clone()
    };
    server.aws_ok("ssm put-parameter --name /app/key --value v --type String --tags Key=team,Value=ops");
    assert_eq!(list("/app/key"), serde_json::json!([{"Key": "team", "Value": "ops"}]));
    let stderr = server.aws_err(
        "ssm put-parameter --name /app/key --value w --overwrite --tags Key=team,Value=dev",
        "ValidationException",
    );
    assert!(stderr.contains("tags and overwrite can't be used together"), "{stderr}");

    server.aws_ok("ssm add-tags-to-resource --resource-type Parameter --resource-id /app/key --tags Key=env,Value=prod Key=team,Value=sre");
    assert_eq!(list("/app/key"), serde_json::json!([{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "sre"}]));
    server
        .aws_ok("ssm remove-tags-from-resource --resource-type Parameter --resource-id /app/key --tag-keys team nope");
    assert_eq!(list("/app/key"), serde_json::json!([{"Key": "env", "Value": "prod"}]));

    // Parameter tags are SSM's: EC2's DescribeTags does not list them.
    assert_eq!(json(&server.aws_ok("ec2 describe-tags"))["Tags"], serde_json::json!([]));

    server.aws_err("ssm list-tags-for-resource --resource-type Parameter --resource-id /app/none", "InvalidResourceId");
    server.aws_err("ssm list-tags-for-resource --resource-type Document --resource-id doc", "InvalidResourceType");
    server.aws_err(
        "ssm add-tags-to-resource --resource-type Parameter --resource-id /app/key --tags Key=aws:x,Value=v",
        "ValidationException",
    );
    // One tag there and fifty more make 51: over SSM's 50.
    let fifty: Vec<String> = (0..50).map(|i| format!("Key=k{i},Value=v")).collect();
    server.aws_err(
        &format!(
            "ssm add-tags-to-resource --resource-type Parameter --resource-id /app/key --tags {}",
            fifty.join(" ")
        ),
        "TooManyTagsError",
    );

    // A deleted parameter's tags go with it.
    server.aws_ok("ssm delete-parameter --name /app/key");
    server.aws_ok("ssm put-parameter --name /app/key --value v --type String");
    assert_eq!(list("/app/key"), serde_json::json!([]));
}

/// One leading slash is not part of a parameter's identity (`x` and `/x` share one ARN), and
/// an ARN names its parameter wherever a name is read.
#[test]
fn a_parameter_is_found_with_or_without_its_leading_slash_and_by_arn() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok("ssm put-parameter --name welcome --type String --value hello");
    let by_slash = json(&server.aws_ok("ssm get-parameter --name /welcome"))["Parameter"].clone();
    assert_eq!((by_slash["Name"].as_str(), by_slash["Value"].as_str()), (Some("welcome"), Some("hello")));
    server.aws_err("ssm put-parameter --name /welcome --type String --value again", "ParameterAlreadyExists");
    assert_eq!(json(&server.aws_ok("ssm put-parameter --name /welcome --value again --overwrite"))["Version"], 2);
    let arn = by_slash["ARN"].as_str().unwrap().to_owned();
    assert_eq!(json(&server.aws_ok(&format!("ssm get-parameter --name {arn}")))["Parameter"]["Value"], "again");
    assert_eq!(json(&server.aws_ok(&format!("ssm get-parameter --name {arn}:1")))["Parameter"]["Value"], "hello");

    server.aws_ok("ssm put-parameter --name /app/db --type String --value v");
    let nested =
        json(&server.aws_ok("ssm get-parameter --name /app/db"))["Parameter"]["ARN"].as_str().unwrap().to_owned();
    assert!(nested.ends_with(":parameter/app/db"), "{nested}");
    let both = json(&server.aws_ok(&format!("ssm get-parameters --names {nested} {arn}")));
    assert_eq!(both["Parameters"].as_array().unwrap().len(), 2, "{both}");
    let history = json(&server.aws_ok(&format!("ssm get-parameter-history --name {arn}")));
    assert_eq!(history["Parameters"].as_array().unwrap().len(), 2);
    let elsewhere = arn.replace("us-east-1", "eu-west-1");
    server.aws_err(&format!("ssm get-parameter --name {elsewhere}"), "ParameterNotFound");

    server.aws_ok("ssm delete-parameter --name /welcome");
    server.aws_err("ssm get-parameter --name welcome", "ParameterNotFound");
}

/// Labels name versions: `name:label` reads the version a label is on, a label moves when
/// put on another version, labels against SSM's rules come back unapplied, and a labelled
/// version is kept.
#[test]
fn labels_name_versions_and_move_between_them() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_ok("ssm put-parameter --name /app/db --type String --value one");
    server.aws_ok("ssm put-parameter --name /app/db --value two --overwrite");
    let labelled = json(
        &server
            .aws_ok("ssm label-parameter-version --name /app/db --parameter-version 1 --labels prod 1st awsy good.one"),
    );
    assert_eq!(labelled, serde_json::json!({"InvalidLabels": ["1st", "awsy"], "ParameterVersion": 1}));
    let got = json(&server.aws_ok("ssm get-parameter --name /app/db:prod"))["Parameter"].clone();
    assert_eq!((got["Value"].as_str(), got["Version"].as_i64()), (Some("one"), Some(1)));
    assert_eq!(got["Selector"], ":prod");
    // No version: the latest; the label leaves version 1.
    let moved = json(&server.aws_ok("ssm label-parameter-version --name /app/db --labels prod"));
    assert_eq!(moved["ParameterVersion"], 2);
    assert_eq!(json(&server.aws_ok("ssm get-parameter --name /app/db:prod"))["Parameter"]["Value"], "two");
    let history = json(&server.aws_ok("ssm get-parameter-history --name /app/db"));
    assert_eq!(history["Parameters"][0]["Labels"], serde_json::json!(["good.one"]));
    assert_eq!(history["Parameters"][1]["Labels"], serde_json::json!(["prod"]));

    let unlabelled = json(
        &server.aws_ok("ssm unlabel-parameter-version --name /app/db --parameter-version 2 --labels prod nothere"),
    );
    assert_eq!(unlabelled, serde_json::json!({"RemovedLabels": ["prod"], "InvalidLabels": ["nothere"]}));
    server.aws_err("ssm get-parameter --name /app/db:prod", "ParameterNotFound");
    let missing = server.aws_err(
        "ssm label-parameter-version --name /app/db --parameter-version 9 --labels x",
        "ParameterVersionNotFound",
    );
    assert!(missing.contains("Systems Manager could not find version 9 of /app/db."), "{missing}");
    let eleven: Vec<String> = (0..11).map(|i| format!("l{i}")).collect();
    server.aws_err(
        &format!("ssm label-parameter-version --name /app/db --parameter-version 1 --labels {}", eleven.join(" ")),
        "ValidationException",
    );
    // good.one and nine more make ten on version 1: the most one version carries.
    let nine: Vec<String> = (0..9).map(|i| format!("l{i}")).collect();
    server.aws_ok(&format!(
        "ssm label-parameter-version --name /app/db --parameter-version 1 --labels {}",
        nine.join(" ")
    ));
    server.aws_err(
        "ssm label-parameter-version --name /app/db --parameter-version 1 --labels eleventh",
        "ParameterVersionLabelLimitExceeded",
    );
    // A deleted parameter takes its labels with it.
    server.aws_ok("ssm delete-parameter --name /app/db");
    server.aws_ok("ssm put-parameter --name /app/db --type String --value fresh");
    server.aws_err("ssm get-parameter --name /app/db:l0", "ParameterNotFound");
}
