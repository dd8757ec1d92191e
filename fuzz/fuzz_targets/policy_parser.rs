//! Feeds arbitrary text to the IAM policy parser (PutUserPolicy's document): it must accept
//! or refuse, never panic, and an accepted policy must evaluate.
#![no_main]

use keyfleet_server::service::policy::{self, ConditionContext, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = Policy::parse(text) {
        let mut context = ConditionContext::default();
        context.add("aws:SourceIp", "127.0.0.1");
        context.add("aws:ResourceTag/env", "prod");
        let request = policy::Request { action: "ec2:CreateKeyPair", resource: "arn:aws:ec2:us-east-1:1:key-pair/a", context: &context };
        let _ = policy::evaluate(std::slice::from_ref(&parsed), &request);
    }
});
