//! # aicr-helm-template — the catalog's manifest templates, rendered
//!
//! (work in progress)
