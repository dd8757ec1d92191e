//! Feeds arbitrary bytes to every request decoder the edge runs before authentication: the
//! Query form (as query string and as body), the JSON 1.1 body, and SigV4's header and
//! presigned forms. Each must return, never panic; what they decode must be usable.
#![no_main]

use keyfleet_server::api::auth::sigv4;
use keyfleet_server::api::protocol::ec2_query::QueryParams;
use keyfleet_server::api::protocol::json11::JsonInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params = QueryParams::decode(&text, data);
    let _ = (params.filters(), params.tags("Tag"), params.tag_specifications(), params.not_xml_safe());
    let _ = params.audit_json();
    if let Ok(input) = JsonInput::parse(data) {
        let _ = input.audit_json();
    }
    let (header, query) = text.split_once('\n').unwrap_or((&text, ""));
    let headers = |name: &str| -> Vec<String> {
        match name {
            "authorization" => vec![header.to_owned()],
            "x-amz-date" => vec!["20260101T000000Z".to_owned()],
            _ => Vec::new(),
        }
    };
    let request = sigv4::Request { method: "POST", path: "/", query, headers: &headers, body: data };
    if let Ok(presented) = sigv4::presented(&request) {
        let secret = sigv4::SecretKey::new("fuzz");
        let _ = sigv4::verify(&request, &presented, &secret, time::OffsetDateTime::UNIX_EPOCH);
    }
});
