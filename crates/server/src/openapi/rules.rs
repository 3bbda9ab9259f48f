//! The input rules of the native API, written into the OpenAPI document: the patterns and
//! lengths of names, the CIDR forms, numeric ranges, the role and region catalogues, and the
//! shape of cursors and key ids.
//!
//! Every rule here describes what the server's own checks (`dbcloud_core::validate`, the
//! cluster rules, the handlers) accept, using their constants where they have one; the tests
//! at the bottom check each pattern against its validator. Patterns are written in the
//! subset that ECMA-262 (JSON Schema), Python's `re` (schemathesis) and Rust's `regex` read
//! alike: no `\d`, `\w` or `\s`, explicit classes instead.

use super::{is_native, native_operations};
use crate::routes::{api_keys, children};
use dbcloud_core::cluster::{MAX_NODE_COUNT, MAX_SPEND_LIMIT};
use dbcloud_core::cursor::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use dbcloud_core::perms::Role;
use dbcloud_types::Provider;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{ArrayItems, Object, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, Number};

/// A character of text: anything but a control character (Unicode `Cc`).
const TEXT_CHAR: &str = r"[^\x00-\x1f\x7f-\x9f]";
/// A character that survives trimming: not a control character and not white space.
const SOLID_CHAR: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// A display name: at least one character that is not white space, no control characters
/// (at most 64 characters; the server trims surrounding white space).
pub fn display_name() -> String {
    format!("^{TEXT_CHAR}*{SOLID_CHAR}{TEXT_CHAR}*$")
}
/// Free text: no control characters but newlines and tabs.
pub const FREE_TEXT: &str = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$";
/// Text without control characters (passwords, user names).
pub const PLAIN_TEXT: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
/// A cluster name: a DNS label of 3–63 lowercase letters, digits and hyphens.
pub const CLUSTER_NAME: &str = r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$";
/// A bucket name (or a database user's scope): 1–100 of letters, digits, `_ - . %`, not
/// starting with `.`.
pub const BUCKET_NAME: &str = r"^[A-Za-z0-9_%-][A-Za-z0-9_.%-]{0,99}$";
/// A database user name: 1–63 of letters, digits, `_ - .`, not starting with `.`.
pub const DB_USER_NAME: &str = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,62}$";
/// A node size: 1–64 of letters, digits, `_ - .`, not starting with `.`.
pub const NODE_SIZE: &str = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$";
/// A database version: one to three dot-separated numbers.
pub const VERSION: &str = r"^[0-9]{1,6}(?:\.[0-9]{1,6}){0,2}$";
/// An e-mail address as the server takes it (printable ASCII; a domain with a dot).
pub const EMAIL: &str = r"^[!-?A-~]+@[!-\-/-~][!-~]*\.[!-~]*$";
/// An access key id.
pub const ACCESS_KEY: &str = r"^dbc_[0-9A-Za-z]{22}$";
/// A list cursor (`next_cursor` of a previous page).
pub const CURSOR: &str = r"^c1\.[0-9a-f]{32}$";
/// A cursor of the API-key list.
pub const KEY_CURSOR: &str = r"^k1\.dbc_[0-9A-Za-z]{22}$";
/// An `Idempotency-Key`: visible ASCII characters (1–255 of them).
pub const IDEMPOTENCY_KEY: &str = r"^[!-~]+$";

const OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const HEX: &str = "[0-9A-Fa-f]{1,4}";

/// IPv4 networks `a.b.c.d/p` with `p` in `prefixes` and every host bit zero: the octet
/// holding the prefix boundary is one of its few allowed values, the ones after it are 0.
fn ipv4_networks(prefixes: std::ops::RangeInclusive<u8>) -> Vec<String> {
    prefixes
        .map(|p| {
            let (full, rem) = (usize::from(p / 8), p % 8);
            let octets: Vec<String> = (0..4)
                .map(|i| match i {
                    _ if i < full => OCTET.to_string(),
                    _ if i == full && rem > 0 => {
                        let values: Vec<String> = (0..256).step_by(1 << (8 - rem)).map(|v: u32| v.to_string()).collect();
                        format!("(?:{})", values.join("|"))
                    }
                    _ => "0".to_string(),
                })
                .collect();
            format!(r"{}/{p}", octets.join(r"\."))
        })
        .collect()
}

/// An IPv6 address in any of its compressed forms (without an embedded IPv4 address).
fn ipv6_address() -> String {
    let h = HEX;
    [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
    ]
    .join("|")
}

/// An allow-list network: a bare IPv4 or IPv6 address (one host), an IPv4 CIDR with its
/// host bits zero, or an IPv6 CIDR (whose host bits must be zero too).
pub fn network() -> String {
    let mut alternatives = vec![format!(r"{OCTET}(?:\.{OCTET}){{3}}")];
    alternatives.extend(ipv4_networks(0..=32));
    alternatives.push(format!("(?:{})(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?", ipv6_address()));
    format!("^(?:{})$", alternatives.join("|"))
}

/// A virtual network: an IPv4 CIDR with a prefix length of 8–28 and its host bits zero.
pub fn virtual_network() -> String {
    format!("^(?:{})$", ipv4_networks(8..=28).join("|"))
}

/// One rule of one property.
enum Rule {
    /// A string matching `pattern`, of `min`–`max` characters.
    Text { pattern: String, min: usize, max: usize },
    /// An integer in a range.
    Int(i64, i64),
    /// A number in a range.
    Float(f64, f64),
    /// One of these strings.
    OneOf(Vec<String>),
}

fn text(pattern: impl Into<String>, min: usize, max: usize) -> Rule {
    Rule::Text { pattern: pattern.into(), min, max }
}

fn roles() -> Rule {
    Rule::OneOf(Role::ALL.iter().map(|r| r.as_str().to_string()).collect())
}

fn regions() -> Rule {
    let mut names: Vec<String> = Provider::ALL.iter().flat_map(|p| dbcloud_core::regions::regions(Some(*p))).map(|r| r.name).collect();
    names.dedup();
    Rule::OneOf(names)
}

/// `(schema, property, rule)` of every request body field with a rule. A property of an
/// array applies to its items.
fn body_rules() -> Vec<(&'static str, &'static str, Rule)> {
    let (quota, replicas) = (children::BUCKET_QUOTA_MB, children::BUCKET_REPLICAS);
    let rate = || Rule::Int(1, api_keys::MAX_RATE_LIMIT);
    let mut v = vec![];
    for s in ["CreateProject", "UpdateProject", "CreateCloud", "UpdateCloud", "CreateApiKey", "UpdateApiKey", "CreateServiceAccount", "UpdateServiceAccount"] {
        v.push((s, "name", text(display_name(), 1, 64)));
    }
    for s in ["CreateProject", "UpdateProject", "CreateApiKey", "UpdateApiKey", "CreateServiceAccount", "UpdateServiceAccount"] {
        v.push((s, "description", text(FREE_TEXT, 0, 1024)));
    }
    v.extend([
        ("CreateCloud", "region", regions()),
        ("CreateCloud", "virtual_network_cidr", text(virtual_network(), 9, 18)),
        ("UpdateCloud", "virtual_network_cidr", text(virtual_network(), 9, 18)),
        ("CreateCluster", "name", text(CLUSTER_NAME, 3, 63)),
        ("CreateCluster", "region", regions()),
        ("CreateCluster", "version", text(VERSION, 1, 20)),
        ("CreateCluster", "node_size", text(NODE_SIZE, 1, 64)),
        ("CreateCluster", "node_count", Rule::Int(1, MAX_NODE_COUNT.into())),
        ("CreateCluster", "spend_limit", Rule::Int(0, MAX_SPEND_LIMIT)),
        ("UpdateCluster", "name", text(CLUSTER_NAME, 3, 63)),
        ("UpdateCluster", "node_count", Rule::Int(1, MAX_NODE_COUNT.into())),
        ("UpdateCluster", "spend_limit", Rule::Int(0, MAX_SPEND_LIMIT)),
        ("CreateBucket", "name", text(BUCKET_NAME, 1, 100)),
        ("CreateBucket", "memory_quota_mb", Rule::Int(*quota.start(), *quota.end())),
        ("CreateBucket", "replicas", Rule::Int((*replicas.start()).into(), (*replicas.end()).into())),
        ("CreateDatabaseUser", "name", text(DB_USER_NAME, 1, 63)),
        ("CreateDatabaseUser", "scope", text(BUCKET_NAME, 1, 100)),
        ("CreateDatabaseUser", "password", text(PLAIN_TEXT, 12, 128)),
        ("ChangePassword", "password", text(PLAIN_TEXT, 12, 128)),
        ("CreateAllowlistEntry", "cidr", text(network(), 2, 43)),
        ("CreateAllowlistEntry", "comment", text(FREE_TEXT, 0, 256)),
        ("CreateApiKey", "expiry", Rule::Float(0.0, api_keys::MAX_EXPIRY_DAYS)),
        ("CreateApiKey", "organization_roles", roles()),
        ("CreateApiKey", "allowed_cidrs", text(network(), 2, 43)),
        ("CreateApiKey", "rate_limit", rate()),
        ("UpdateApiKey", "rate_limit", rate()),
        ("RotateApiKey", "grace_period_seconds", Rule::Int(0, api_keys::MAX_GRACE_PERIOD_SECONDS)),
        ("ResourceRoles", "roles", roles()),
        ("CreateServiceAccount", "roles", roles()),
        ("RoleSpec", "role", roles()),
        ("CreateUser", "email", text(EMAIL, 3, 254)),
        ("CreateUser", "name", text(PLAIN_TEXT, 0, 64)),
        ("CreateUser", "roles", roles()),
        ("CreateRoleGrant", "role", roles()),
        ("UpdateOrganization", "rate_limit", rate()),
    ]);
    v
}

/// The string, number or item schema a property's rule applies to.
fn leaf<'a>(s: &'a mut RefOr<Schema>, at: &str) -> &'a mut Object {
    match s {
        RefOr::T(Schema::Object(o)) => o,
        RefOr::T(Schema::Array(a)) => match &mut a.items {
            ArrayItems::RefOrSchema(items) => leaf(items, at),
            ArrayItems::False => panic!("{at}: an array without items"),
        },
        _ => panic!("{at}: not a plain property"),
    }
}

fn apply(o: &mut Object, rule: &Rule) {
    match rule {
        Rule::Text { pattern, min, max } => {
            o.pattern = Some(pattern.clone());
            o.min_length = (*min > 0).then_some(*min);
            o.max_length = Some(*max);
        }
        Rule::Int(min, max) => {
            o.minimum = Some(Number::Int(*min as isize));
            o.maximum = Some(Number::Int(*max as isize));
        }
        Rule::Float(min, max) => {
            o.minimum = Some(Number::Float(*min));
            o.maximum = Some(Number::Float(*max));
        }
        Rule::OneOf(values) => o.enum_values = Some(values.iter().map(|v| serde_json::Value::from(v.as_str())).collect()),
    }
}

/// Writes the rules into the document: request body properties, and the `limit`, `cursor`,
/// key-id and `Idempotency-Key` parameters of every native operation.
pub struct Rules;

impl Modify for Rules {
    fn modify(&self, doc: &mut OpenApi) {
        let schemas = &mut doc.components.as_mut().expect("components").schemas;
        for (schema, property, rule) in body_rules() {
            let at = format!("{schema}.{property}");
            let o = super::object_schema(schemas, schema);
            let p = o.properties.get_mut(property).unwrap_or_else(|| panic!("{at}: no such property"));
            apply(leaf(p, &at), &rule);
        }
        for (path, _, op) in native_operations(doc) {
            for p in op.parameters.iter_mut().flatten() {
                let RefOr::T(p) = p else { continue };
                let at = format!("{path} {}", p.name);
                let rule = match p.name.as_str() {
                    "limit" => Rule::Int(1, MAX_PAGE_SIZE.into()),
                    "cursor" if path.starts_with("/v1/api-keys") => text(KEY_CURSOR, 36, 36),
                    "cursor" => text(CURSOR, 35, 35),
                    "id" if path.starts_with("/v1/api-keys/") => text(ACCESS_KEY, 26, 26),
                    "Idempotency-Key" => text(IDEMPOTENCY_KEY, 1, 255),
                    _ => continue,
                };
                let header = p.parameter_in == ParameterIn::Header;
                let schema = p.schema.as_mut().unwrap_or_else(|| panic!("{at}: no schema"));
                let o = leaf(schema, &at);
                apply(o, &rule);
                if header {
                    // A header is a string when present; it is never `null`.
                    o.schema_type = SchemaType::Type(Type::String);
                }
                if p.name == "limit" {
                    o.default = Some(DEFAULT_PAGE_SIZE.into());
                    o.format = None;
                }
            }
        }
        debug_assert!(doc.paths.paths.keys().any(|p| is_native(p)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbcloud_core::validate;
    use regex::Regex;

    fn re(p: &str) -> Regex {
        Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// Every IPv4 network of a grid of addresses and every prefix: the pattern matches
    /// exactly the ones the validator takes as written.
    #[test]
    fn ipv4_patterns_are_exactly_the_validators() {
        let (any, vpc) = (re(&network()), re(&virtual_network()));
        for a in [0u32, 10 << 24, 0x0a10_0000, 0xc0a8_0100, 0xc0a8_0180, 0xcb00_7107, 0xffff_ffff, 0x8000_0000, 0x0a0a_0a0a] {
            let ip = std::net::Ipv4Addr::from(a);
            for p in 0..=32 {
                let s = format!("{ip}/{p}");
                let canonical = validate::cidr(&s).is_ok_and(|c| c == s);
                assert_eq!(any.is_match(&s), canonical, "{s}");
                assert_eq!(vpc.is_match(&s), validate::vpc_cidr(&s).is_ok(), "{s}");
            }
            assert!(any.is_match(&ip.to_string()) && validate::cidr(&ip.to_string()).is_ok(), "{ip}");
        }
        for bad in ["10.0.0.0/33", "256.0.0.0/8", "10.0.0/8", "010.0.0.0/8", "10.0.0.0/08", "", " 10.0.0.0/8"] {
            assert!(!any.is_match(bad) && !vpc.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn ipv6_pattern_admits_only_addresses() {
        let any = re(&network());
        for good in ["::", "::1", "fe80::", "2001:db8::/32", "2001:db8:0:0:0:0:0:1", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "2001:db8::/128"] {
            assert!(any.is_match(good), "{good}");
            assert!(validate::cidr(good).is_ok(), "{good}");
        }
        for bad in [":::", "1:2:3:4:5:6:7:8:9", "2001:db8::/129", "g::1", "1::2::3"] {
            assert!(!any.is_match(bad), "{bad}");
        }
    }

    /// Each text pattern admits only what its validator accepts, over a corpus of edge cases.
    #[test]
    fn text_patterns_admit_only_valid_values() {
        let corpus: Vec<String> = [
            "",
            " ",
            "a",
            "ab",
            "abc",
            "prod-1",
            "Prod",
            "1abc",
            "abc-",
            "a_b",
            ".x",
            "x.",
            "%x",
            "travel-sample",
            "a b",
            "tab\there",
            "new\nline",
            "nul\u{0}",
            "\u{85}x",
            "\u{a0}",
            "\u{a0}x",
            "\u{3000}",
            "x\u{2028}",
            "é",
            "7.6",
            "7.6.2",
            "7.x",
            "1.2.3.4",
            "1234567",
            "m5.xlarge",
            "user@example.com",
            "a@b.c",
            "a@.c",
            "@b.c",
            "a@bc",
            "a b@c.d",
            "a@b@c.d",
            "correct horse battery staple",
            "short",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["a".repeat(63), "a".repeat(64), "a".repeat(65), "a".repeat(100), "a".repeat(101), "p".repeat(128), "p".repeat(129)])
        .collect();
        type Validator = Box<dyn Fn(&str) -> bool>;
        let cases: Vec<(String, usize, usize, Validator)> = vec![
            (display_name(), 1, 64, Box::new(|s: &str| validate::display_name(s).is_ok())),
            (CLUSTER_NAME.into(), 3, 63, Box::new(|s: &str| validate::cluster_name(s).is_ok())),
            (BUCKET_NAME.into(), 1, 100, Box::new(|s: &str| validate::identifier(s, 100, true).is_ok())),
            (DB_USER_NAME.into(), 1, 63, Box::new(|s: &str| validate::identifier(s, 63, false).is_ok())),
            (NODE_SIZE.into(), 1, 64, Box::new(|s: &str| validate::node_size(s).is_ok())),
            (VERSION.into(), 1, 20, Box::new(|s: &str| validate::version(s).is_ok())),
            (FREE_TEXT.into(), 0, 256, Box::new(|s: &str| validate::free_text(s, 256).is_ok())),
            (PLAIN_TEXT.into(), 12, 128, Box::new(|s: &str| dbcloud_core::secret::check_password(s).is_ok())),
        ];
        for (pattern, min, max, valid) in &cases {
            let r = re(pattern);
            for s in &corpus {
                let n = s.chars().count();
                if r.is_match(s) && (*min..=*max).contains(&n) {
                    assert!(valid(s), "{pattern} admits {s:?}, which the server refuses");
                }
            }
        }
        let email = re(EMAIL);
        assert!(email.is_match("user@example.com") && email.is_match("a@b.c"));
        assert!(!email.is_match("a@.c") && !email.is_match("a@bc") && !email.is_match("a b@c.d"));
    }
}
