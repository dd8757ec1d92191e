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
#[test]
fn put_parameter_refuses_what_keyfleet_does_not_keep() {
    if !require(&["aws"]) {
        return;
    }
    let server = TestServer::start();
    server.aws_err("ssm put-parameter --name /t/a --value v --type String --tier Advanced", "ValidationException");
    server
        .aws_err("ssm put-parameter --name /t/a --value v --type String --allowed-pattern ^v$", "ValidationException");
    server.aws_err("ssm get-parameter --name /t/a", "ParameterNotFound");
    let standard = json(&server.aws_ok("ssm put-parameter --name /t/a --value v --type String --tier Standard"));
    assert_eq!(standard["Tier"], "Standard");
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
