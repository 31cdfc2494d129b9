//! # aicr-bundle — recipe in, deployable bundle out
//!
//! (work in progress)
