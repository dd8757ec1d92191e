//! Leaf helpers every layer may use: they import nothing else of the crate, so that
//! `runtime/`, `store/`, `service/` and `api/` can share them without importing upward.

pub mod cidr;
pub mod glob;
pub mod ids;
pub mod page;
pub mod time;
pub mod wire;
