//! Just enough OpenAPI 3 to hold requests and responses to a published API description: operations found by
//! `operationId`, path templates, path parameters, basic-auth security, request content types, and the subset
//! of JSON Schema that Twilio's description uses (`$ref`, `type`, `enum`, `pattern`, `minLength`, `maxLength`,
//! `format`, `nullable`, `items`, `properties`, `required`).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use axum::http::Method;
use regex::Regex;
use serde_json::Value;

/// One operation of the description, with its `$ref`s resolved.
#[derive(Debug)]
pub(crate) struct Operation {
    /// `operationId`, e.g. `CreateMessage`.
    pub id: String,
    pub method: Method,
    /// Path template, e.g. `/2010-04-01/Accounts/{AccountSid}/Messages.json`.
    pub template: String,
    matcher: Regex,
    /// Path parameters: name and schema.
    pub path_params: Vec<(String, Value)>,
    /// Query parameters: name and schema.
    pub query_params: Vec<(String, Value)>,
    /// `requestBody.content` media types and schemas (empty when the operation takes no body).
    pub bodies: Vec<(String, Value)>,
    /// The documented success status and its JSON schema.
    pub success: (u16, Value),
    /// The operation (or the document) requires HTTP basic auth.
    pub basic_auth: bool,
}

/// Why a request does not fit the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The parameter at fault, when one is.
    pub field: Option<String>,
    pub kind: FaultKind,
    /// Human-readable reason, naming the field and the rule from the description.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// A parameter the schema marks required is absent.
    Missing,
    /// A value breaks its schema (pattern, format, type, enum, length).
    Invalid,
    /// A field that is not a property of the request schema.
    Unknown,
    /// A non-array field given more than once.
    Repeated,
    /// A media type that `requestBody.content` does not list, or a body that cannot be decoded.
    Body,
}

impl Fault {
    fn new(field: Option<&str>, kind: FaultKind, detail: String) -> Self {
        Fault { field: field.map(str::to_owned), kind, detail }
    }
}

/// Result of matching a method and path against the implemented operations.
pub(crate) enum Route<'a> {
    Found(&'a Operation, Vec<(String, String)>),
    /// The path fits operations with other methods: `METHOD template` of each.
    MethodNotAllowed(Vec<String>),
    NotFound,
}

/// A loaded API description and the operations a stand-in implements.
#[derive(Debug)]
pub(crate) struct Spec {
    doc: Value,
    operations: Vec<Operation>,
    patterns: Mutex<HashMap<String, Regex>>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Spec {
    /// Reads the description at `path` and extracts the operations named in `operation_ids`.
    pub fn load(path: &Path, operation_ids: &[&str]) -> io::Result<Spec> {
        let text = std::fs::read(path)?;
        let doc: Value =
            serde_json::from_slice(&text).map_err(|e| invalid(format!("{} is not JSON: {e}", path.display())))?;
        let mut spec = Spec { doc, operations: Vec::new(), patterns: Mutex::new(HashMap::new()) };
        for id in operation_ids {
            let operation = spec.find_operation(id).ok_or_else(|| {
                invalid(format!("{} has no operation {id:?} this stand-in can serve", path.display()))
            })?;
            spec.operations.push(operation);
        }
        Ok(spec)
    }

    fn find_operation(&self, wanted: &str) -> Option<Operation> {
        for (template, item) in self.doc.get("paths")?.as_object()? {
            for (method, op) in item.as_object()? {
                if op.get("operationId").and_then(Value::as_str) != Some(wanted) {
                    continue;
                }
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                let mut path_params = Vec::new();
                let mut query_params = Vec::new();
                for param in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                    let param = self.resolve(param);
                    let name = param.get("name")?.as_str()?.to_owned();
                    let schema = self.resolve(param.get("schema")?).clone();
                    match param.get("in").and_then(Value::as_str) {
                        Some("path") => path_params.push((name, schema)),
                        Some("query") => query_params.push((name, schema)),
                        _ => {}
                    }
                }
                let body = op.get("requestBody").map(|b| self.resolve(b));
                let bodies = body
                    .and_then(|b| b.get("content"))
                    .and_then(Value::as_object)
                    .map(|content| {
                        content
                            .iter()
                            .map(|(media, c)| {
                                let schema = c.get("schema").map(|s| self.resolve(s).clone()).unwrap_or(Value::Null);
                                (media.to_ascii_lowercase(), schema)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let success = op.get("responses")?.as_object()?.iter().find_map(|(status, response)| {
                    let status: u16 = status.parse().ok().filter(|s| (200..300).contains(s))?;
                    let schema = self.resolve(response).pointer("/content/application~1json/schema")?;
                    Some((status, self.resolve(schema).clone()))
                })?;
                let security = op.get("security").or_else(|| self.doc.get("security"));
                let basic_auth = security.and_then(Value::as_array).into_iter().flatten().any(|requirement| {
                    requirement.as_object().into_iter().flatten().any(|(name, _)| {
                        let scheme = self.doc.pointer(&format!("/components/securitySchemes/{name}"));
                        scheme.and_then(|s| s.get("scheme")).and_then(Value::as_str) == Some("basic")
                    })
                });
                let mut matcher = String::from("^");
                let mut rest = template.as_str();
                while let Some(open) = rest.find('{') {
                    let close = open + rest[open..].find('}')?;
                    matcher.push_str(&regex::escape(&rest[..open]));
                    matcher.push_str(&format!("(?P<{}>[^/]+?)", &rest[open + 1..close]));
                    rest = &rest[close + 1..];
                }
                matcher.push_str(&regex::escape(rest));
                matcher.push('$');
                return Some(Operation {
                    id: wanted.to_owned(),
                    method,
                    template: template.clone(),
                    matcher: Regex::new(&matcher).ok()?,
                    path_params,
                    query_params,
                    bodies,
                    success,
                    basic_auth,
                });
            }
        }
        None
    }

    /// Follows local `$ref`s (`#/components/...`).
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match self.doc.pointer(pointer) {
                    Some(target) => value = target,
                    None => break,
                },
                None => break,
            }
        }
        value
    }

    /// The implemented operation serving `method` and `path`, with the path parameters' raw values.
    pub fn route(&self, method: &Method, path: &str) -> Route<'_> {
        let mut allowed = Vec::new();
        for op in &self.operations {
            if let Some(captures) = op.matcher.captures(path) {
                allowed.push(format!("{} {}", op.method, op.template));
                if op.method == *method {
                    let params = op
                        .path_params
                        .iter()
                        .map(|(name, _)| {
                            let value = captures.name(name).map(|m| m.as_str().to_owned()).unwrap_or_default();
                            (name.clone(), value)
                        })
                        .collect();
                    return Route::Found(op, params);
                }
            }
        }
        if !allowed.is_empty() {
            Route::MethodNotAllowed(allowed)
        } else {
            Route::NotFound
        }
    }

    /// The loaded operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// Query parameters: each one declared by the operation, given once, and valid for its schema.
    pub fn check_query(&self, op: &Operation, params: &[(String, String)]) -> Result<(), Fault> {
        for (i, (name, value)) in params.iter().enumerate() {
            let Some((_, schema)) = op.query_params.iter().find(|(n, _)| n == name) else {
                return Err(Fault::new(
                    Some(name),
                    FaultKind::Unknown,
                    format!("query parameter {name} is not declared by {}", op.id),
                ));
            };
            if params[..i].iter().any(|(n, _)| n == name) {
                return Err(Fault::new(Some(name), FaultKind::Repeated, format!("query parameter {name} repeated")));
            }
            self.check_text(schema, value)
                .map_err(|why| Fault::new(Some(name), FaultKind::Invalid, format!("query parameter {name}: {why}")))?;
        }
        Ok(())
    }

    /// Each path parameter against its schema.
    pub fn check_path_params(&self, op: &Operation, params: &[(String, String)]) -> Result<(), Fault> {
        for ((name, schema), (_, value)) in op.path_params.iter().zip(params) {
            self.check_text(schema, value)
                .map_err(|why| Fault::new(Some(name), FaultKind::Invalid, format!("path parameter {name}: {why}")))?;
        }
        Ok(())
    }

    /// The request's media type must be listed in `requestBody.content`; returns the schema for it.
    pub fn body_schema<'a>(&self, op: &'a Operation, content_type: Option<&str>) -> Result<Option<&'a Value>, Fault> {
        if op.bodies.is_empty() {
            return Ok(None);
        }
        let essence =
            content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).unwrap_or_default();
        match op.bodies.iter().find(|(media, _)| *media == essence) {
            Some((_, schema)) => Ok(Some(schema)),
            None => {
                let listed: Vec<&str> = op.bodies.iter().map(|(media, _)| media.as_str()).collect();
                Err(Fault::new(
                    None,
                    FaultKind::Body,
                    format!("Content-Type {essence:?} is not one of {listed:?} accepted by {}", op.id),
                ))
            }
        }
    }

    /// Form fields against an object schema: every field a property, non-array fields at most once, required
    /// fields present, every value valid.
    pub fn check_form(&self, schema: &Value, fields: &[(String, String)]) -> Result<(), Fault> {
        let properties = schema.get("properties").and_then(Value::as_object);
        let property = |name: &str| properties.and_then(|p| p.get(name)).map(|s| self.resolve(s));
        for (i, (name, _)) in fields.iter().enumerate() {
            let Some(prop) = property(name) else {
                return Err(Fault::new(
                    Some(name),
                    FaultKind::Unknown,
                    format!("{name} is not a parameter of this request (not a property of the request schema)"),
                ));
            };
            let is_array = prop.get("type").and_then(Value::as_str) == Some("array");
            if !is_array && fields[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(Fault::new(Some(name), FaultKind::Repeated, format!("{name} is given more than once")));
            }
        }
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let required = required.as_str().unwrap_or_default();
            if !fields.iter().any(|(name, _)| name == required) {
                return Err(Fault::new(Some(required), FaultKind::Missing, format!("{required} is required")));
            }
        }
        for (name, value) in fields {
            let prop = property(name).unwrap_or(&Value::Null);
            let schema = match prop.get("type").and_then(Value::as_str) {
                Some("array") => prop.get("items").map(|i| self.resolve(i)).unwrap_or(&Value::Null),
                _ => prop,
            };
            self.check_text(schema, value)
                .map_err(|why| Fault::new(Some(name), FaultKind::Invalid, format!("{name} {value:?} {why}")))?;
        }
        Ok(())
    }

    /// A textual value (path parameter or form field) against a scalar schema.
    fn check_text(&self, schema: &Value, value: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.iter().any(|o| o.as_str() == Some(value)) {
                return Err(format!("is not one of {}", Value::Array(options.clone())));
            }
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") if value.parse::<i64>().is_err() => Err("is not an integer".to_owned()),
            Some("number") if value.parse::<f64>().map(f64::is_finite) != Ok(true) => Err("is not a number".to_owned()),
            Some("boolean") if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") => {
                Err("is not a boolean (true or false)".to_owned())
            }
            _ => self.check_string(schema, value),
        }
    }

    /// String constraints: pattern, length, format.
    fn check_string(&self, schema: &Value, value: &str) -> Result<(), String> {
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            if !self.matches(pattern, value)? {
                return Err(format!("does not match the pattern {pattern}"));
            }
        }
        let chars = value.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64).filter(|min| chars < *min) {
            return Err(format!("is shorter than {min} characters"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64).filter(|max| chars > *max) {
            return Err(format!("is longer than {max} characters"));
        }
        let ignore_format = schema.pointer("/x-twilio/ignoreFormat").and_then(Value::as_bool) == Some(true);
        match schema.get("format").and_then(Value::as_str) {
            _ if ignore_format => Ok(()),
            Some(format) => check_format(format, value),
            None => Ok(()),
        }
    }

    fn matches(&self, pattern: &str, value: &str) -> Result<bool, String> {
        let mut cache = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.contains_key(pattern) {
            let regex = Regex::new(pattern).map_err(|e| format!("has a pattern the stand-in cannot compile: {e}"))?;
            cache.insert(pattern.to_owned(), regex);
        }
        Ok(cache[pattern].is_match(value))
    }

    /// The property names of an object schema (the keys a response may carry).
    pub fn property_names(&self, schema: &Value) -> Vec<String> {
        let schema = self.resolve(schema);
        schema.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }

    /// A JSON document against a schema: only declared properties, `null` only where nullable, types, enums,
    /// patterns and formats. Used to keep the stand-in's own responses honest.
    pub fn check_json(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        let kind = schema.get("type").and_then(Value::as_str);
        match value {
            Value::Null if nullable || kind.is_none() => Ok(()),
            Value::Null => Err(format!("{at} is null but the schema does not allow it")),
            Value::Object(map) if kind == Some("object") => match schema.get("properties").and_then(Value::as_object) {
                Some(properties) => map.iter().try_for_each(|(key, v)| match properties.get(key) {
                    Some(s) => self.check_json(s, v, &format!("{at}.{key}")),
                    None => Err(format!("{at}.{key} is not a property of the schema")),
                }),
                None => Ok(()),
            },
            Value::String(s) if kind == Some("string") => {
                self.check_text(schema, s).map_err(|why| format!("{at} {s:?} {why}"))
            }
            Value::Number(n) if kind == Some("integer") && n.is_i64() => Ok(()),
            Value::Number(_) if kind == Some("number") => Ok(()),
            Value::Bool(_) if kind == Some("boolean") => Ok(()),
            Value::Array(items) if kind == Some("array") => {
                let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
                items.iter().enumerate().try_for_each(|(i, v)| self.check_json(&item_schema, v, &format!("{at}[{i}]")))
            }
            other => Err(format!("{at} = {other} does not have the schema's type {}", kind.unwrap_or("?"))),
        }
    }
}

/// Value formats. Unknown formats are accepted (OpenAPI treats `format` as an open-ended annotation).
fn check_format(format: &str, value: &str) -> Result<(), String> {
    let ok = match format {
        // E.164, optionally behind a channel prefix such as `whatsapp:`.
        "phone-number" => {
            let number = value.split_once(':').map(|(channel, n)| if channel == "whatsapp" { n } else { "" });
            is_e164(number.unwrap_or(value))
        }
        "uri" => reqwest::Url::parse(value).is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(value).is_ok(),
        "date-time-rfc-2822" => chrono::DateTime::parse_from_rfc2822(value).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else if format == "phone-number" {
        Err("is not an E.164 phone number (+ and up to 15 digits, no leading 0)".to_owned())
    } else {
        Err(format!("is not a valid {format}"))
    }
}

/// `^\+[1-9]\d{1,14}$`
fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else { return false };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(check_format("phone-number", "+4915112345678").is_ok());
        assert!(check_format("phone-number", "whatsapp:+4915112345678").is_ok());
        for bad in ["4915112345678", "+0151", "+1", "+1234567890123456", "+49 151", "fax:+4915112345678"] {
            assert!(check_format("phone-number", bad).is_err(), "{bad}");
        }
        assert!(check_format("uri", "https://example.com/cb").is_ok());
        assert!(check_format("uri", "not a uri").is_err());
        assert!(check_format("date-time-rfc-2822", "Thu, 24 Aug 2023 05:01:45 +0000").is_ok());
        assert!(check_format("twiml", "anything").is_ok());
    }
}
