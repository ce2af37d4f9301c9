//! Cross-crate tests live beside this file (`registry.rs`, `architecture.rs`,
//! `properties.rs`); CLI-level tests live in `crates/cli/tests/`. Fixtures with their
//! provenance are in `fixtures/`.
