//! twinverify: sound verification of neural-network twins (an original and its compressed copy).
//! Pipeline: onnx → ir → bounds → encode → solve → tighten → analysis → report, on the ground
//! floor `round` (outward rounding); `twins` writes new ONNX twins; `cli` is a thin layer on top.

pub mod analysis;
pub mod bounds;
pub mod cli;
pub mod data;
pub mod encode;
pub mod error;
pub mod ir;
pub mod onnx;
pub mod par;
pub mod report;
pub mod round;
pub mod solve;
pub mod spec;
pub mod tighten;
pub mod twins;
pub mod vnnlib;

pub use error::{Error, Result};
