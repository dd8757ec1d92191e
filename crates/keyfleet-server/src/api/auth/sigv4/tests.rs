//! AWS's published aws-sig-v4-test-suite vectors (the suite that ships with the AWS SDKs'
//! signers; credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, region us-east-1, service
//! `service`), ten of them, run through both the signer and the verifier, plus the rejections.

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

/// The suite's signature of `req` over `signed_headers`: its key, date, region and service.
fn sign_as_the_suite(req: &Request<'_>, signed_headers: &[&str]) -> String {
    sign(req, "AKIDEXAMPLE", &SecretKey::new(SECRET), "us-east-1", "service", "20150830T123600Z", signed_headers)
}

#[test]
fn signer_reproduces_aws_test_suite() {
    for (method, query, sig) in VECTORS {
        let req = request(method, query, &headers);
        let auth = sign_as_the_suite(&req, &["host", "x-amz-date"]);
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

/// More of the suite: headers that repeat, need trimming or sort after `host`, a query on a
/// POST, unreserved and UTF-8 query characters, and a signed form body with its content type.
/// Each is signed by the signer and accepted by the verifier with the suite's signature.
struct Vector {
    name: &'static str,
    method: &'static str,
    query: &'static str,
    extra: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    signature: &'static str,
}

const MORE_VECTORS: [Vector; 7] = [
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        query: "",
        extra: &[("my-header1", "value2"), ("my-header1", "value2"), ("my-header1", "value1")],
        body: b"",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        query: "",
        extra: &[("my-header1", " value1"), ("my-header2", " \"a   b   c\"")],
        body: b"",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        query: "",
        extra: &[("my-header1", "VALUE1")],
        body: b"",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        query: "Param1=value1",
        extra: &[],
        body: b"",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        extra: &[],
        body: b"",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        query: "%E1%88%B4=bar",
        extra: &[],
        body: b"",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        query: "",
        extra: &[("content-type", "application/x-www-form-urlencoded")],
        body: b"Param1=value1",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
];

impl Vector {
    fn signed_headers(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.extra.iter().map(|(name, _)| *name).chain(["host", "x-amz-date"]).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    fn header(&self, name: &str, authorization: Option<&str>) -> Vec<String> {
        match (name, authorization) {
            ("authorization", Some(value)) => vec![value.to_owned()],
            _ => {
                let extra = self.extra.iter().filter(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
                headers(name).into_iter().chain(extra).collect()
            }
        }
    }

    fn authorization(&self) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            self.signed_headers().join(";"),
            self.signature
        )
    }
}

#[test]
fn more_of_the_aws_test_suite_signs_and_verifies() {
    for vector in &MORE_VECTORS {
        let plain = |name: &str| vector.header(name, None);
        let req = Request { method: vector.method, path: "/", query: vector.query, headers: &plain, body: vector.body };
        let signed = sign_as_the_suite(&req, &vector.signed_headers());
        assert_eq!(signed, vector.authorization(), "{}", vector.name);

        let authorization = vector.authorization();
        let with_auth = |name: &str| vector.header(name, Some(&authorization));
        let req = Request { headers: &with_auth, ..req };
        let found = presented(&req).unwrap();
        assert_eq!(verify(&req, &found, &SecretKey::new(SECRET), at_vector_time()), Ok(()), "{}", vector.name);
        let other_body = Request { body: b"Param1=value2", ..req };
        assert_eq!(
            verify(&other_body, &found, &SecretKey::new(SECRET), at_vector_time()),
            Err(AuthError::SignatureMismatch),
            "{}: the signature must cover the body",
            vector.name
        );
    }
}

/// A signature that leaves `host` out could be sent to any endpoint that shares the key.
#[test]
fn a_signature_must_cover_the_host() {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature={}",
        VECTORS[0].2
    );
    let with_auth = |name: &str| match name {
        "authorization" => vec![authorization.clone()],
        other => headers(other),
    };
    let req = request("GET", "", &with_auth);
    assert!(matches!(presented(&req), Err(AuthError::Malformed(m)) if m.contains("'Host'")), "{:?}", presented(&req));
}
