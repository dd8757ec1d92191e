//! Golden request/response pairs: raw EC2 Query requests (form POST and GET) against a
//! `--dev` server, compared with `golden/<case>.xml` after normalizing ids, request ids
//! and times. `UPDATE_GOLDEN=1 cargo test --test e2e golden` rewrites the files.

use std::path::Path;

use crate::support::TestServer;

/// Vector A (docs/aws-facts.md, "Fingerprint test vectors"): real AWS gave it `4LmcYnyB…hmw=`.
const PUBLIC_KEY_B64: &str =
    "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUxSK3pOUWJZWTVPUnVoWVhHTVRTbmpSTHpTOUM1ZFVkV1JLZGxxaTIwcTI%3D";

struct Exchange {
    status: u16,
    content_type: String,
    body: String,
}

fn post(server: &TestServer, form: &str) -> Exchange {
    let response = ureq::post(format!("{}/", server.url))
        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .config()
        .http_status_as_error(false)
        .build()
        .send(format!("Version=2016-11-15&{form}"))
        .unwrap();
    exchange(response)
}

fn get(server: &TestServer, query: &str) -> Exchange {
    let response =
        ureq::get(format!("{}/?{query}", server.url)).config().http_status_as_error(false).build().call().unwrap();
    exchange(response)
}

fn exchange(response: ureq::http::Response<ureq::Body>) -> Exchange {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Exchange { status, content_type, body: response.into_body().read_to_string().unwrap() }
}

/// Replaces what changes from run to run: key pair ids, request ids, times.
fn normalize(xml: &str) -> String {
    let mut out = replace_element(xml, "requestId", "REQUEST-ID");
    out = replace_element(&out, "RequestID", "REQUEST-ID");
    out = replace_element(&out, "createTime", "TIME");
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("key-") {
        let candidate = &rest[at + 4..];
        let hex = candidate.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        result.push_str(&rest[..at]);
        if hex == 17 {
            result.push_str("key-ID");
            rest = &candidate[17..];
        } else {
            result.push_str("key-");
            rest = candidate;
        }
    }
    result.push_str(rest);
    result
}

fn replace_element(xml: &str, name: &str, with: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let (Some(s), Some(e)) = (rest.find(&open), rest.find(&close)) {
        out.push_str(&rest[..s + open.len()]);
        out.push_str(with);
        rest = &rest[e..];
        out.push_str(&close);
        rest = &rest[close.len()..];
    }
    out.push_str(rest);
    out
}

fn check(case: &str, exchange: &Exchange, status: u16) {
    assert_eq!(exchange.status, status, "{case}: {}", exchange.body);
    assert_eq!(exchange.content_type, "text/xml;charset=UTF-8", "{case}");
    let actual = normalize(&exchange.body);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/golden").join(format!("{case}.xml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(actual, expected, "{case}");
}

fn key_pair_id(body: &str) -> String {
    let start = body.find("<keyPairId>").unwrap() + "<keyPairId>".len();
    body[start..start + 21].to_owned()
}

#[test]
fn wire_format_matches_golden_pairs() {
    let server = TestServer::dev();
    check("describe_key_pairs_empty", &post(&server, "Action=DescribeKeyPairs"), 200);
    let imported = post(&server, &format!("Action=ImportKeyPair&KeyName=imported&PublicKeyMaterial={PUBLIC_KEY_B64}"));
    check("import_key_pair", &imported, 200);
    let id = key_pair_id(&imported.body);
    check(
        "create_tags",
        &post(&server, &format!("Action=CreateTags&ResourceId.1={id}&Tag.1.Key=env&Tag.1.Value=a%3Cb%26c")),
        200,
    );
    check("describe_key_pairs_public_key", &post(&server, "Action=DescribeKeyPairs&IncludePublicKey=true"), 200);
    check(
        "describe_tags",
        &post(&server, "Action=DescribeTags&Filter.1.Name=resource-type&Filter.1.Value.1=key-pair"),
        200,
    );
    check(
        "describe_key_pairs_get",
        &get(&server, "Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=imported"),
        200,
    );
    let duplicate = post(&server, &format!("Action=ImportKeyPair&KeyName=imported&PublicKeyMaterial={PUBLIC_KEY_B64}"));
    check("error_duplicate", &duplicate, 400);
    check("error_not_found", &post(&server, "Action=DescribeKeyPairs&KeyName.1=nope"), 400);
    check("error_dry_run", &post(&server, "Action=DescribeKeyPairs&DryRun=true"), 412);
    check("error_invalid_action", &post(&server, "Action=RunInstancez"), 400);
    check("error_missing_action", &post(&server, "KeyName=x"), 400);
    check("error_create_tags_without_resources", &post(&server, "Action=CreateTags&Tag.1.Key=a&Tag.1.Value=b"), 400);
    check("error_filter_without_name", &post(&server, "Action=DescribeKeyPairs&Filter.1.Value.1=x"), 400);
    check("delete_key_pair", &post(&server, "Action=DeleteKeyPair&KeyName=imported"), 200);
    check("delete_key_pair_missing", &post(&server, "Action=DeleteKeyPair&KeyName=imported"), 200);
    check("error_delete_without_target", &post(&server, "Action=DeleteKeyPair"), 400);
}

#[test]
fn moto_reset_clears_state_in_dev_mode() {
    let server = TestServer::dev();
    post(&server, &format!("Action=ImportKeyPair&KeyName=k&PublicKeyMaterial={PUBLIC_KEY_B64}"));
    let reset = ureq::post(format!("{}/moto-api/reset", server.url)).send("").unwrap();
    assert_eq!(reset.status().as_u16(), 200);
    assert!(post(&server, "Action=DescribeKeyPairs").body.contains("<keySet/>"));
    let enforcing = TestServer::start();
    let refused = ureq::post(format!("{}/moto-api/reset", enforcing.url))
        .config()
        .http_status_as_error(false)
        .build()
        .send("")
        .unwrap();
    assert_ne!(refused.status().as_u16(), 200, "reset exists only with --dev");
}
