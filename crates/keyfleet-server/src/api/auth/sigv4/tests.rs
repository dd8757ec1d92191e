//! AWS's published aws-sig-v4-test-suite vectors (get-vanilla, get-vanilla-query-order-key-case,
//! post-vanilla), run through both the signer and the verifier, plus the rejections.

use time::OffsetDateTime;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SCOPE: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=";

fn headers(name: &str) -> Vec<String> {
    match name {
        "host" => vec!["example.amazonaws.com".into()],
        "x-amz-date" => vec!["20150830T123600Z".into()],
        _ => vec![],
    }
}

fn at_vector_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_440_938_160).unwrap()
}

const VECTORS: [(&str, &str, &str); 3] = [
    ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("GET", "Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
];

fn request<'a>(method: &'a str, query: &'a str, headers: &'a (dyn Fn(&str) -> Vec<String> + Sync)) -> Request<'a> {
    Request { method, path: "/", query, headers, body: b"" }
}

#[test]
fn signer_reproduces_aws_test_suite() {
    for (method, query, sig) in VECTORS {
        let req = request(method, query, &headers);
        let auth = sign(
            &req,
            "AKIDEXAMPLE",
            &SecretKey::new(SECRET),
            "us-east-1",
            "service",
            "20150830T123600Z",
            &["host", "x-amz-date"],
        );
        assert_eq!(auth, format!("{SCOPE}{sig}"), "{method} ?{query}");
    }
}

#[test]
fn verifier_accepts_aws_test_suite_and_rejects_tampering() {
    for (method, query, sig) in VECTORS {
        let with_auth = |name: &str| match name {
            "authorization" => vec![format!("{SCOPE}{sig}")],
            other => headers(other),
        };
        let req = request(method, query, &with_auth);
        let presented = presented(&req).unwrap();
        assert_eq!((presented.region.as_str(), presented.access_key_id.as_str()), ("us-east-1", "AKIDEXAMPLE"));
        assert_eq!(verify(&req, &presented, &SecretKey::new(SECRET), at_vector_time()), Ok(()));
        assert_eq!(
            verify(&req, &presented, &SecretKey::new("wrong"), at_vector_time()),
            Err(AuthError::SignatureMismatch)
        );
        let tampered = Request { query: "Param3=x", ..req };
        assert_eq!(
            verify(&tampered, &presented, &SecretKey::new(SECRET), at_vector_time()),
            Err(AuthError::SignatureMismatch)
        );
    }
}

#[test]
fn clock_skew_beyond_fifteen_minutes_is_refused() {
    let with_auth = |name: &str| match name {
        "authorization" => vec![format!("{SCOPE}{}", VECTORS[0].2)],
        other => headers(other),
    };
    let req = request("GET", "", &with_auth);
    let p = presented(&req).unwrap();
    let secret = SecretKey::new(SECRET);
    let minutes = |m: i64| at_vector_time() + time::Duration::minutes(m);
    assert_eq!(verify(&req, &p, &secret, minutes(14)), Ok(()));
    assert_eq!(verify(&req, &p, &secret, minutes(-14)), Ok(()));
    assert_eq!(verify(&req, &p, &secret, minutes(16)), Err(AuthError::Expired));
    assert_eq!(verify(&req, &p, &secret, minutes(-16)), Err(AuthError::Expired));
}

#[test]
fn presigned_query_form_is_verified_and_expires() {
    // Sign the canonical request a presigned URL carries, using the signer's own pieces.
    let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&Action=DescribeKeyPairs";
    let host_only = |name: &str| {
        if name == "host" { vec!["example.amazonaws.com".to_owned()] } else { vec![] }
    };
    let unsigned = Request { method: "GET", path: "/", query: base, headers: &host_only, body: b"" };
    let p = Presented {
        access_key_id: "AKIDEXAMPLE".into(),
        scope_date: "20150830".into(),
        region: "us-east-1".into(),
        service: "ec2".into(),
        signed_headers: vec!["host".into()],
        signature: String::new(),
        amz_date: "20150830T123600Z".into(),
        expires: Some(60),
    };
    let sig = signature(
        &SecretKey::new(SECRET),
        &p,
        &canonical_request(&unsigned, &p.signed_headers, &hex(&Sha256::digest(b"")), true),
    );
    let query = format!("{base}&X-Amz-Signature={sig}");
    let req = Request { query: &query, ..unsigned };
    let found = presented(&req).unwrap();
    assert_eq!(found.service, "ec2");
    assert_eq!(verify(&req, &found, &SecretKey::new(SECRET), at_vector_time() + time::Duration::seconds(30)), Ok(()));
    assert_eq!(
        verify(&req, &found, &SecretKey::new(SECRET), at_vector_time() + time::Duration::seconds(61)),
        Err(AuthError::Expired)
    );
}

#[test]
fn unsigned_and_malformed_requests_are_told_apart() {
    let none = |_: &str| Vec::new();
    assert_eq!(presented(&request("GET", "", &none)), Err(AuthError::Missing));
    let bad = |name: &str| {
        if name == "authorization" { vec!["AWS4-HMAC-SHA256 Credential=AK/x".into()] } else { headers(name) }
    };
    assert!(matches!(presented(&request("GET", "", &bad)), Err(AuthError::Malformed(_))));
}

#[test]
fn secret_key_debug_is_redacted() {
    assert_eq!(format!("{:?}", SecretKey::new(SECRET)), "SecretKey(<redacted>)");
}

#[test]
fn a_plus_in_the_query_is_a_space_as_the_api_reads_it() {
    assert_eq!(decode_query("a=b+c&d=%2B"), vec![("a".to_owned(), "b c".to_owned()), ("d".to_owned(), "+".to_owned())]);
}
