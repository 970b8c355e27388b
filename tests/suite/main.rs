//! Every integration test in one binary (one link instead of one per file, and the files' tests
//! share the cores): a module per area, helpers in `common`.

mod common;

mod bab;
mod bad_models;
mod bad_values;
mod batches;
mod boundary;
mod bounds;
mod cli;
mod degenerate_boxes;
mod determinism;
mod equiv;
mod flags;
mod float_sound;
mod json_schema;
mod lrom;
mod normalised;
mod onnx_import;
mod plot;
mod resilience;
mod robustness;
mod solver_files;
mod solvers;
mod spec;
mod spec_every_analysis;
mod twins;
mod verify;
mod vnnlib_files;
