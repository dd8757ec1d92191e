//! Wire envelopes, written once: the EC2 Query protocol (form in, XML out). JSON 1.1
//! (SSM, Instance Connect): `json11.rs`.

pub mod aws_query;
pub mod ec2_query;
pub mod json11;
pub mod xml;
