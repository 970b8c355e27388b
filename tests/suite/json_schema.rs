//! Every command's JSON output against the documented schema (`schemas/output.schema.json`):
//! `scripts/json_examples.sh` runs each command with `--json` on the fixtures, and each document
//! must carry the stamp (schema_version, tool, command line) and every documented field with its
//! type. Every command that has `--json` has a schema.

use crate::common;

use std::path::Path;

use clap::CommandFactory;
use serde_json::Value;
use twinverify::cli::Cli;

/// The JSON type names `value` satisfies.
fn types_of(value: &Value) -> Vec<&'static str> {
    match value {
        Value::Null => vec!["null"],
        Value::Bool(_) => vec!["boolean"],
        Value::Number(n) if n.is_i64() || n.is_u64() => vec!["integer", "number"],
        Value::Number(_) => vec!["number"],
        Value::String(_) => vec!["string"],
        Value::Array(_) => vec!["array"],
        Value::Object(_) => vec!["object"],
    }
}

/// Violations of `schema` (type, required, properties, items) by `value` at `path`.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types_of(value).iter().any(|t| allowed.contains(t)) {
            errors.push(format!("{path}: {value} is not of type {allowed:?}"));
            return;
        }
    }
    if let (Some(obj), Some(required)) = (value.as_object(), schema.get("required").and_then(Value::as_array)) {
        for key in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(key) {
                errors.push(format!("{path}: missing required key `{key}`"));
            }
        }
    }
    if let (Some(obj), Some(props)) = (value.as_object(), schema.get("properties").and_then(Value::as_object)) {
        for (key, sub) in props {
            if let Some(v) = obj.get(key) {
                validate(sub, v, &format!("{path}.{key}"), errors);
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            validate(schema, v, &format!("{path}[{i}]"), errors);
        }
    }
}

#[test]
fn every_json_output_matches_the_documented_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("schemas/output.schema.json")).unwrap()).unwrap();
    let defs = schema["$defs"].as_object().unwrap();
    // every command with --json has a schema
    for cmd in Cli::command().get_subcommands() {
        if cmd.get_arguments().any(|a| a.get_long() == Some("json")) {
            assert!(defs.contains_key(cmd.get_name()), "no schema for `{}`", cmd.get_name());
        }
    }
    let dir = common::scratch_dir("json-schema");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/json_examples.sh"))
        .arg(env!("CARGO_BIN_EXE_twinverify"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut errors = Vec::new();
    for (name, def) in defs {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("json_examples.sh wrote no {name}.json: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["schema_version"], twinverify::report::SCHEMA_VERSION, "{name}");
        assert!(doc["tool"].as_str().is_some_and(|t| t.starts_with("twinverify ")), "{name}");
        assert!(doc["command_line"].as_array().is_some_and(|c| !c.is_empty()), "{name}");
        validate(def, &doc, name, &mut errors);
    }
    // the validator rejects what it should
    let mut caught = Vec::new();
    validate(&defs["robust"], &serde_json::json!({"network": 1}), "robust", &mut caught);
    assert!(caught.iter().any(|e| e.contains("missing required key `samples`")), "{caught:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(errors.is_empty(), "outputs that do not match schemas/output.schema.json:\n{}", errors.join("\n"));
}
