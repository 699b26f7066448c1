//! The JSON form of a transaction read by `corralctl txn`:
//!
//! ```json
//! {
//!   "compare": [
//!     {"path": "/config", "target": "version", "op": "==", "value": 3},
//!     {"path": "/lock", "target": "exists", "value": false},
//!     {"path": "/mode", "target": "data", "op": "!=", "value": "maintenance"}
//!   ],
//!   "success": [
//!     {"op": "put", "path": "/config", "data": "v4", "expected_version": 3},
//!     {"op": "create", "path": "/jobs/job-", "data": "x", "sequential": true, "parents": true},
//!     {"op": "delete", "path": "/old", "recursive": true},
//!     {"op": "get", "path": "/config"},
//!     {"op": "list", "path": "/jobs", "recursive": false}
//!   ],
//!   "failure": [{"op": "get", "path": "/config"}]
//! }
//! ```
//!
//! Compare targets: `exists` (value true/false), `version`, `mod_revision`,
//! `create_revision`, `num_children` (integers), `data` (a string, or `data_base64`).
//! `op` is `==` (default), `!=`, `>` or `<`. Data is `data` (UTF-8 text) or
//! `data_base64`. Unknown fields are errors, so a typo cannot silently change a txn.

use base64::Engine as _;
use corral_client::{
    Compare, CreateOptions, DeleteOptions, GetOptions, ListOptions, Op, PutOptions, Txn,
};
use serde_json::{Map, Value};

/// Parses the JSON text of a transaction; the error names the offending field.
pub fn parse(text: &str) -> Result<Txn, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("txn is not valid JSON: {e}"))?;
    let mut top = object(value, "txn")?;
    let compares = take_list(&mut top, "compare")?
        .into_iter()
        .enumerate()
        .map(|(i, c)| compare(c).map_err(|e| format!("compare[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let success = ops(take_list(&mut top, "success")?, "success")?;
    let failure = ops(take_list(&mut top, "failure")?, "failure")?;
    no_more(&top, "txn", &["compare", "success", "failure"])?;
    Ok(Txn::new().when(compares).and_then(success).or_else(failure))
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("{what} must be a JSON object, not {other}")),
    }
}

fn take_list(map: &mut Map<String, Value>, key: &str) -> Result<Vec<Value>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(other) => Err(format!("{key} must be a list, not {other}")),
    }
}

fn no_more(map: &Map<String, Value>, what: &str, known: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "{what} has unknown field {key:?} (known: {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

fn integer(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer, not {v}")),
    }
}

fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("{key} must be true or false, not {other}")),
    }
}

fn path(map: &Map<String, Value>) -> Result<String, String> {
    string(map, "path")?.ok_or_else(|| "path is required".to_string())
}

/// `data` (text) or `data_base64`; empty if neither.
fn data(map: &Map<String, Value>, text_key: &str) -> Result<Vec<u8>, String> {
    let b64_key = format!("{text_key}_base64");
    match (string(map, text_key)?, string(map, &b64_key)?) {
        (Some(_), Some(_)) => Err(format!("give {text_key} or {b64_key}, not both")),
        (Some(text), None) => Ok(text.into_bytes()),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("{b64_key} is not base64: {e}")),
        (None, None) => Ok(Vec::new()),
    }
}

fn compare(value: Value) -> Result<Compare, String> {
    let map = object(value, "a compare")?;
    let path = path(&map)?;
    let target = string(&map, "target")?.ok_or("target is required")?;
    let op = string(&map, "op")?.unwrap_or_else(|| "==".into());
    let known = ["path", "target", "op", "value", "value_base64"];
    no_more(&map, "compare", &known)?;
    if target == "exists" {
        let wanted = match map.get("value") {
            Some(Value::Bool(b)) => *b,
            other => return Err(format!("exists needs value true or false, not {other:?}")),
        };
        return match (op.as_str(), wanted) {
            ("==" | "eq", true) | ("!=" | "ne", false) => Ok(Compare::exists(path)),
            ("==" | "eq", false) | ("!=" | "ne", true) => Ok(Compare::not_exists(path)),
            _ => Err(format!("exists takes == or !=, not {op:?}")),
        };
    }
    macro_rules! finish {
        ($on:expr, $value:expr) => {
            match op.as_str() {
                "==" | "eq" => Ok($on.eq($value)),
                "!=" | "ne" => Ok($on.ne($value)),
                ">" | "gt" => Ok($on.gt($value)),
                "<" | "lt" => Ok($on.lt($value)),
                other => Err(format!("op must be ==, !=, > or <, not {other:?}")),
            }
        };
    }
    if target == "data" {
        return finish!(Compare::data(path), data(&map, "value")?);
    }
    let number = integer(&map, "value")?.ok_or("value (an integer) is required")?;
    match target.as_str() {
        "version" => finish!(Compare::version(path), number),
        "mod_revision" => finish!(Compare::mod_revision(path), number),
        "create_revision" => finish!(Compare::create_revision(path), number),
        "num_children" => finish!(Compare::num_children(path), number),
        other => Err(format!(
            "unknown target {other:?} (exists, version, mod_revision, create_revision, num_children, data)"
        )),
    }
}

fn ops(values: Vec<Value>, branch: &str) -> Result<Vec<Op>, String> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| op(v).map_err(|e| format!("{branch}[{i}]: {e}")))
        .collect()
}

fn op(value: Value) -> Result<Op, String> {
    let map = object(value, "an op")?;
    let kind = string(&map, "op")?.ok_or("op is required (create, put, delete, get, list)")?;
    let path = path(&map)?;
    match kind.as_str() {
        "create" => {
            no_more(
                &map,
                "create",
                &[
                    "op",
                    "path",
                    "data",
                    "data_base64",
                    "sequential",
                    "parents",
                    "lease",
                    "container",
                    "ttl_ms",
                ],
            )?;
            let mut options = CreateOptions::new();
            if flag(&map, "sequential")? {
                options = options.sequential();
            }
            if flag(&map, "parents")? {
                options = options.create_parents();
            }
            if flag(&map, "container")? {
                options = options.container();
            }
            if let Some(lease) = integer(&map, "lease")? {
                options = options.ephemeral(lease);
            }
            if let Some(ttl) = integer(&map, "ttl_ms")? {
                let ttl = u64::try_from(ttl).map_err(|_| "ttl_ms must be ≥ 0".to_string())?;
                options = options.ttl(std::time::Duration::from_millis(ttl));
            }
            Ok(Op::create(path, data(&map, "data")?, options))
        }
        "put" => {
            no_more(
                &map,
                "put",
                &[
                    "op",
                    "path",
                    "data",
                    "data_base64",
                    "expected_version",
                    "create",
                ],
            )?;
            let mut options = PutOptions::new();
            if let Some(v) = integer(&map, "expected_version")? {
                options = options.expected_version(v);
            }
            if flag(&map, "create")? {
                options = options.create_if_missing();
            }
            Ok(Op::put(path, data(&map, "data")?, options))
        }
        "delete" => {
            no_more(
                &map,
                "delete",
                &["op", "path", "recursive", "expected_version"],
            )?;
            let mut options = DeleteOptions::new();
            if flag(&map, "recursive")? {
                options = options.recursive();
            }
            if let Some(v) = integer(&map, "expected_version")? {
                options = options.expected_version(v);
            }
            Ok(Op::delete(path, options))
        }
        "get" => {
            no_more(&map, "get", &["op", "path"])?;
            Ok(Op::get(path, GetOptions::new()))
        }
        "list" => {
            no_more(&map, "list", &["op", "path", "recursive"])?;
            let mut options = ListOptions::new().with_data();
            if flag(&map, "recursive")? {
                options = options.recursive();
            }
            Ok(Op::list(path, options))
        }
        other => Err(format!(
            "unknown op {other:?} (create, put, delete, get, list)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"{
          "compare": [
            {"path": "/config", "target": "version", "op": "==", "value": 3},
            {"path": "/lock", "target": "exists", "value": false},
            {"path": "/mode", "target": "data", "op": "!=", "value": "maintenance"}
          ],
          "success": [
            {"op": "put", "path": "/config", "data": "v4", "expected_version": 3},
            {"op": "create", "path": "/jobs/job-", "data": "x", "sequential": true, "parents": true},
            {"op": "delete", "path": "/old", "recursive": true},
            {"op": "get", "path": "/config"},
            {"op": "list", "path": "/jobs", "recursive": false}
          ],
          "failure": [{"op": "get", "path": "/config"}]
        }"#;
        let txn = parse(text).expect("valid");
        let expected = Txn::new()
            .when([
                Compare::version("/config").eq(3),
                Compare::not_exists("/lock"),
                Compare::data("/mode").ne("maintenance"),
            ])
            .and_then([
                Op::put("/config", "v4", PutOptions::new().expected_version(3)),
                Op::create(
                    "/jobs/job-",
                    "x",
                    CreateOptions::new().sequential().create_parents(),
                ),
                Op::delete("/old", DeleteOptions::new().recursive()),
                Op::get("/config", GetOptions::new()),
                Op::list("/jobs", ListOptions::new().with_data()),
            ])
            .or_else([Op::get("/config", GetOptions::new())]);
        assert_eq!(txn, expected);
    }

    #[test]
    fn mistakes_are_named() {
        for (text, wanted) in [
            ("[]", "must be a JSON object"),
            ("{", "not valid JSON"),
            (r#"{"sucess": []}"#, "unknown field \"sucess\""),
            (
                r#"{"success": [{"op": "put", "path": "/a", "dta": "x"}]}"#,
                "success[0]: put has unknown field \"dta\"",
            ),
            (
                r#"{"success": [{"op": "rename", "path": "/a"}]}"#,
                "unknown op \"rename\"",
            ),
            (r#"{"success": [{"op": "get"}]}"#, "path is required"),
            (
                r#"{"compare": [{"path": "/a", "target": "size", "value": 1}]}"#,
                "compare[0]: unknown target",
            ),
            (
                r#"{"compare": [{"path": "/a", "target": "version", "op": ">=", "value": 1}]}"#,
                "op must be",
            ),
            (
                r#"{"compare": [{"path": "/a", "target": "version", "value": "1"}]}"#,
                "must be an integer",
            ),
            (
                r#"{"success": [{"op": "put", "path": "/a", "data_base64": "!!"}]}"#,
                "not base64",
            ),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }
}
