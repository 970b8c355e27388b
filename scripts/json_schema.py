#!/usr/bin/env python3
"""Writes schemas/output.schema.json: the JSON Schema (draft 2020-12 subset: type, required,
properties, items, $ref) of every JSON document twinverify writes, inferred from example
documents and then committed. tests/suite/json_schema.rs runs every command with --json on the
fixtures and validates what it prints against this file, so a field that disappears or changes
its type fails the tests until the schema (and, when a meaning changes, report::SCHEMA_VERSION)
is updated.

    python3 scripts/json_schema.py OUT_DIR      # OUT_DIR holds COMMAND.json documents

Inference: every key seen is required; a number may also be null (NaN and infinities are
written as null); a key seen only as null is left unconstrained, one seen as null and as
something else may be either; array items merge every element seen.

The examples: scripts/json_examples.sh writes them from the fixtures.
"""
import json
import pathlib
import sys


def merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    ta, tb = set(as_list(a.get("type"))), set(as_list(b.get("type")))
    out = {}
    if ta or tb:
        types = sorted(ta | tb)
        out["type"] = types[0] if len(types) == 1 else types
    if "properties" in a or "properties" in b:
        pa, pb = a.get("properties", {}), b.get("properties", {})
        out["properties"] = {k: merge(pa.get(k), pb.get(k)) for k in sorted(set(pa) | set(pb))}
        out["required"] = sorted(set(a.get("required", pa)) & set(b.get("required", pb)))
    if "items" in a or "items" in b:
        out["items"] = merge(a.get("items"), b.get("items"))
    return out


def as_list(t):
    return [] if t is None else (t if isinstance(t, list) else [t])


def infer(v):
    if v is None:
        return {"type": "null"}
    if isinstance(v, bool):
        return {"type": "boolean"}
    if isinstance(v, int):
        return {"type": ["integer", "null"]}
    if isinstance(v, float):
        return {"type": ["number", "null"]}
    if isinstance(v, str):
        return {"type": "string"}
    if isinstance(v, list):
        items = None
        for e in v:
            items = merge(items, infer(e))
        return {"type": "array", **({"items": items} if items else {})}
    props = {k: infer(x) for k, x in sorted(v.items())}
    return {"type": "object", "required": sorted(v), "properties": props}


def loosen(schema):
    """A key seen only as null may hold anything."""
    if schema.get("type") == "null":
        return {}
    for k, sub in schema.get("properties", {}).items():
        schema["properties"][k] = loosen(sub)
    if "items" in schema:
        schema["items"] = loosen(schema["items"])
    return schema


def main():
    docs = pathlib.Path(sys.argv[1])
    defs, version = {}, None
    for p in sorted(docs.glob("*.json")):
        doc = json.loads(p.read_text())
        version = doc["schema_version"]
        schema = loosen(infer(doc))
        # "integer" widens to "number" so that whole-valued floats pass
        defs[p.stem] = json.loads(json.dumps(schema).replace('["integer", "null"]', '["number", "null"]'))
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"twinverify JSON output (schema_version {version})",
        "description": "One definition per command (boundary_pair: boundary --reference). Every document carries schema_version, tool and command_line.",
        "$defs": defs,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "schemas/output.schema.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({len(defs)} documents)")


if __name__ == "__main__":
    main()
