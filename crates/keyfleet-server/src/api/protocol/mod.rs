//! Wire envelopes, written once: the EC2 Query protocol (form in, XML out). JSON 1.1
//! (SSM, Instance Connect, CloudTrail) joins here with the later services.

pub mod ec2_query;
pub mod xml;
