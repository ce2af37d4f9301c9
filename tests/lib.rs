//! Cross-crate tests live beside this file (`registry.rs`, `architecture.rs`,
//! `properties.rs`); CLI-level tests live in `crates/cli/tests/`. Fixtures with their
//! provenance are in `fixtures/`. [`s3`] starts the real S3 server the sync tests use and a
//! fault-injecting proxy in front of it.

pub mod hostile_corpus;
pub mod s3;
