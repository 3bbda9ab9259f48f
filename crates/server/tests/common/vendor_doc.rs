//! A small OpenAPI 3.0 schema checker for the vendors' own documents (CockroachDB, Couchbase,
//! CrateDB), shared by the dialect tests.
//!
//! It checks an answer against the document's response schema: `$ref`, `allOf`, `oneOf`
//! (exactly one variant fits) and `anyOf` (at least one), types, `enum`, required
//! properties (present and not null), `nullable` (null is refused unless the document marks
//! the schema nullable, or the test lists the property in [`VendorDoc::null_ok`]),
//! `minLength`/`maxLength`, `pattern`, `uniqueItems`, the formats `date-time`, `uuid`,
//! `email` and `uri`/`url`, and that an answer holds no property the document lacks
//! (unless [`VendorDoc::extra_ok`] lists it) and no write-only property. Values a dialect
//! documents beyond the document's enums ([`VendorDoc::allow_values`]) and answers it
//! documents in another schema ([`VendorDoc::answer_as`]) are listed explicitly too.
//!
//! It also lists the document's operations and matches concrete paths to their templates,
//! so a test can check which operations are served and which answer 501.
#![allow(dead_code)]

use regex::Regex;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

/// A vendor's OpenAPI document and the dialect's documented allowances.
pub struct VendorDoc {
    doc: Value,
    /// An OpenAPI 3.1 document, where a schema without a type (any value) admits null too.
    v31: bool,
    /// `Schema.property` names that may be null although the document does not say
    /// `nullable` (each a documented dialect decision).
    pub null_ok: BTreeSet<String>,
    /// `Schema.property` names an answer may carry although the document lacks them (each a
    /// documented dialect decision).
    pub extra_ok: BTreeSet<String>,
    /// `Schema.property` → values it may take beyond what the document allows (each a
    /// documented dialect decision).
    pub values_ok: HashMap<String, Vec<Value>>,
    /// `METHOD template` → the schema its success answer is checked against instead of the
    /// document's (each a documented dialect decision).
    pub answers_as: HashMap<String, String>,
    patterns: RefCell<HashMap<String, Regex>>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl VendorDoc {
    /// A JSON document.
    pub fn json(text: &str) -> Self {
        Self::new(serde_json::from_str(text).expect("the vendor document is JSON"))
    }

    /// A YAML document.
    pub fn yaml(text: &str) -> Self {
        Self::new(serde_norway::from_str(text).expect("the vendor document is YAML"))
    }

    fn new(doc: Value) -> Self {
        VendorDoc {
            v31: doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
            doc,
            null_ok: BTreeSet::new(),
            extra_ok: BTreeSet::new(),
            values_ok: HashMap::new(),
            answers_as: HashMap::new(),
            patterns: RefCell::new(HashMap::new()),
        }
    }

    /// Adds `Schema.property` names that may be null.
    pub fn allow_null(mut self, names: &[&str]) -> Self {
        self.null_ok.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Adds `Schema.property` names an answer may carry beyond the document.
    pub fn allow_extra(mut self, names: &[&str]) -> Self {
        self.extra_ok.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Adds values `Schema.property` may take beyond the document.
    pub fn allow_values(mut self, name: &str, values: Vec<Value>) -> Self {
        self.values_ok.entry(name.to_string()).or_default().extend(values);
        self
    }

    /// Checks the success answer of `operation` (`METHOD template`) against the component
    /// schema `schema` instead of the document's.
    pub fn answer_as(mut self, operation: &str, schema: &str) -> Self {
        self.answers_as.insert(operation.to_string(), schema.to_string());
        self
    }

    /// Every `(METHOD, template)` of the document whose template starts with `prefix`.
    pub fn operations(&self, prefix: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            if !template.starts_with(prefix) {
                continue;
            }
            for m in METHODS {
                if item.get(m).is_some() {
                    out.insert((m.to_uppercase(), template.clone()));
                }
            }
        }
        out
    }

    /// The template of the document's operation `method path` (query ignored, a trailing
    /// `/` optional); the one with most literal segments when several fit.
    pub fn template(&self, method: &str, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let m = method.to_lowercase();
        let mut best: Option<(usize, String)> = None;
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            if item.get(&m).is_none() {
                continue;
            }
            let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
            if t.len() != segs.len() {
                continue;
            }
            let fits = t.iter().zip(&segs).all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b);
            let literal = t.iter().filter(|a| !a.starts_with('{')).count();
            if fits && best.as_ref().is_none_or(|(n, _)| literal > *n) {
                best = Some((literal, template.clone()));
            }
        }
        best.map(|(_, t)| t)
    }

    /// A concrete path for a template: every `{…}` becomes `fill`.
    pub fn concrete(template: &str, fill: &str) -> String {
        template.split('/').map(|s| if s.starts_with('{') { fill } else { s }).collect::<Vec<_>>().join("/")
    }

    /// The JSON response schema of `method template` for `status` (or the `default`
    /// response); `None` when the document gives that answer no JSON body.
    pub fn response_schema(&self, method: &str, template: &str, status: u16) -> Option<&Value> {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        let r = op["responses"].get(status.to_string()).or_else(|| op["responses"].get("default"))?;
        r.get("content").and_then(|c| c.get("application/json")).and_then(|c| c.get("schema"))
    }

    /// Checks the JSON request body `v` of `method path` against the document's request
    /// schema; each misfit is pushed onto `errs`.
    pub fn check_request(&self, method: &str, path: &str, v: &Value, errs: &mut Vec<String>) {
        let Some(template) = self.template(method, path) else {
            return errs.push(format!("{method} {path}: not an operation of the document"));
        };
        let op = &self.doc["paths"][&template][method.to_lowercase()];
        match op.pointer("/requestBody/content/application~1json/schema") {
            Some(schema) => self.check(schema, v, &format!("{method} {template} (request)"), "", errs),
            None => errs.push(format!("{method} {template}: the document gives this request no JSON body")),
        }
    }

    /// Whether `status` is a documented answer of `method template`.
    pub fn documents_status(&self, method: &str, template: &str, status: u16) -> bool {
        let r = &self.doc["paths"][template][method.to_lowercase()]["responses"];
        r.get(status.to_string()).is_some() || r.get("default").is_some()
    }

    /// Checks the answer `v` of `method path` with `status` against the document; each
    /// misfit is pushed onto `errs`, prefixed with `what`.
    pub fn check_answer(&self, method: &str, path: &str, status: u16, v: &Value, errs: &mut Vec<String>) {
        let Some(template) = self.template(method, path) else {
            return errs.push(format!("{method} {path}: not an operation of the document"));
        };
        let at = format!("{method} {template} ({status})");
        if let Some(name) = self.answers_as.get(&format!("{} {template}", method.to_uppercase()))
            && (200..300).contains(&status)
        {
            return self.check(&serde_json::json!({"$ref": format!("#/components/schemas/{name}")}), v, &at, "", errs);
        }
        match self.response_schema(method, &template, status) {
            Some(schema) => self.check(schema, v, &at, "", errs),
            None if v.is_null() => {}
            None => errs.push(format!("{at}: the document gives this answer no body, got {v}")),
        }
    }

    fn resolve<'a>(&'a self, mut s: &'a Value, mut name: String) -> (&'a Value, String) {
        while let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
            s = self.doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("unresolved {r}"));
            name = r.rsplit('/').next().unwrap_or_default().to_string();
        }
        (s, name)
    }

    /// Whether `schema` (after `$ref`/`allOf`) accepts null: OpenAPI 3.0's `nullable`, or 3.1's
    /// `type: [..., "null"]` and `oneOf`/`anyOf` with a null variant.
    fn nullable(&self, schema: &Value) -> bool {
        let (s, _) = self.resolve(schema, String::new());
        let any = |key: &str| s.get(key).and_then(Value::as_array).is_some_and(|all| all.iter().any(|x| self.nullable(x)));
        let null_type = match s.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
            _ => false,
        };
        let any_value = self.v31 && ["type", "$ref", "allOf", "oneOf", "anyOf", "enum", "const"].iter().all(|k| s.get(k).is_none());
        s.get("nullable") == Some(&Value::Bool(true)) || null_type || any_value || any("allOf") || any("oneOf") || any("anyOf")
    }

    /// The type of a schema: 3.0's single `type`, or the one non-null type of a 3.1 list.
    fn type_of(s: &Value) -> Option<&str> {
        match s.get("type")? {
            Value::String(t) => Some(t),
            Value::Array(ts) => match ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>()[..] {
                [one] => Some(one),
                _ => None,
            },
            _ => None,
        }
    }

    fn flag(s: &Value, key: &str) -> bool {
        s.get(key) == Some(&Value::Bool(true))
    }

    /// Whether a property schema is write-only.
    fn write_only(&self, schema: &Value) -> bool {
        let (s, _) = self.resolve(schema, String::new());
        Self::flag(s, "writeOnly")
    }

    fn regex(&self, pattern: &str) -> Regex {
        self.patterns
            .borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}")))
            .clone()
    }

    /// Checks `v` against `schema` at `at`; `name` is the nearest named schema (for the
    /// allowances).
    pub fn check(&self, schema: &Value, v: &Value, at: &str, name: &str, errs: &mut Vec<String>) {
        let (s, name) = self.resolve(schema, name.to_string());
        if v.is_null() {
            if !self.nullable(s) {
                errs.push(format!("{at}: null, but the document does not allow null here"));
            }
            return;
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, v, at, &name, errs);
            }
        }
        for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(variants) = s.get(key).and_then(Value::as_array) {
                let mut fits = 0;
                let mut why = vec![];
                for (i, sub) in variants.iter().enumerate() {
                    let mut e = vec![];
                    self.check(sub, v, &format!("{at}<{key} {i}>"), &name, &mut e);
                    if e.is_empty() {
                        fits += 1;
                    } else {
                        why.extend(e);
                    }
                }
                if (exactly_one && fits != 1) || fits == 0 {
                    errs.push(format!("{at}: fits {fits} of the {} {key} variants of {name} ({})", variants.len(), why.join("; ")));
                }
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errs.push(format!("{at}: {v} not in enum {}", Value::Array(e.clone())));
        }
        let ty = Self::type_of(s);
        let object_like = s.get("properties").is_some() || s.get("additionalProperties").is_some();
        match ty {
            Some("object") | None if object_like => self.check_object(s, v, at, &name, errs),
            Some("object") if !v.is_object() => errs.push(format!("{at}: not an object")),
            Some("array") => match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(&s["items"], item, &format!("{at}[{i}]"), &name, errs);
                    }
                    if Self::flag(s, "uniqueItems") && items.iter().map(Value::to_string).collect::<BTreeSet<_>>().len() != items.len() {
                        errs.push(format!("{at}: items are not unique"));
                    }
                }
                None => errs.push(format!("{at}: not an array")),
            },
            Some("string") => match v.as_str() {
                Some(text) => self.check_string(s, text, at, errs),
                None => errs.push(format!("{at}: {v} is not a string")),
            },
            Some("integer") if !(v.is_i64() || v.is_u64()) => errs.push(format!("{at}: {v} is not an integer")),
            Some("number") if !v.is_number() => errs.push(format!("{at}: {v} is not a number")),
            Some("boolean") if !v.is_boolean() => errs.push(format!("{at}: {v} is not a boolean")),
            Some("null") => errs.push(format!("{at}: {v} is not null")),
            _ => {}
        }
        if let Some(n) = v.as_f64()
            && matches!(ty, Some("integer" | "number"))
        {
            if s.get("minimum").and_then(Value::as_f64).is_some_and(|min| n < min) {
                errs.push(format!("{at}: {v} is below the minimum {}", s["minimum"]));
            }
            if s.get("maximum").and_then(Value::as_f64).is_some_and(|max| n > max) {
                errs.push(format!("{at}: {v} is above the maximum {}", s["maximum"]));
            }
        }
    }

    fn check_object(&self, s: &Value, v: &Value, at: &str, name: &str, errs: &mut Vec<String>) {
        let Some(obj) = v.as_object() else { return errs.push(format!("{at}: not an object")) };
        let props = s.get("properties").and_then(Value::as_object);
        let prop = |k: &str| props.and_then(|p| p.get(k));
        let allowed = |set: &BTreeSet<String>, k: &str| set.contains(&format!("{name}.{k}"));
        let required: Vec<&str> = s.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        for r in &required {
            if prop(r).is_some_and(|p| self.write_only(p)) {
                continue;
            }
            match obj.get(*r) {
                None => errs.push(format!("{at}.{r}: required, missing")),
                Some(Value::Null) if !allowed(&self.null_ok, r) && !prop(r).is_some_and(|p| self.nullable(p)) => errs.push(format!("{at}.{r}: required, null")),
                _ => {}
            }
        }
        for (k, val) in obj {
            let here = format!("{at}.{k}");
            match (prop(k), s.get("additionalProperties")) {
                (Some(ps), _) if self.write_only(ps) => errs.push(format!("{here}: write-only, must not be in an answer")),
                (Some(_), _) if val.is_null() && (allowed(&self.null_ok, k) || required.contains(&k.as_str())) => {}
                (Some(_), _) if self.values_ok.get(&format!("{name}.{k}")).is_some_and(|vs| vs.contains(val)) => {}
                (Some(ps), _) => self.check(ps, val, &here, &format!("{name}.{k}"), errs),
                (None, Some(Value::Bool(true))) => {}
                (None, Some(ap)) if ap.is_object() => self.check(ap, val, &here, name, errs),
                (None, _) if allowed(&self.extra_ok, k) => {}
                (None, _) if required.contains(&k.as_str()) => {}
                (None, _) => errs.push(format!("{here}: not in the document ({name})")),
            }
        }
    }

    fn check_string(&self, s: &Value, text: &str, at: &str, errs: &mut Vec<String>) {
        let len = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            errs.push(format!("{at}: {text:?} is shorter than minLength {min}"));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            errs.push(format!("{at}: {text:?} is longer than maxLength {max}"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !self.regex(p).is_match(text)
        {
            errs.push(format!("{at}: {text:?} does not match the pattern {p}"));
        }
        let ok = match s.get("format").and_then(Value::as_str) {
            Some("date-time") => time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok(),
            Some("uuid") => uuid::Uuid::try_parse(text).is_ok(),
            Some("email") => text.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains('@')),
            Some("uri" | "url") => text.starts_with("http://") || text.starts_with("https://"),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: {text:?} is not a valid {}", s["format"]));
        }
    }
}
