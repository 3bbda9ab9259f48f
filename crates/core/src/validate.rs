//! Field checks shared by every API surface. Each returns `Err(description)`; callers
//! attach the field name (see [`crate::error::Violations`]).

use ipnet::IpNet;
use std::net::IpAddr;

/// A display name: 1–64 characters after trimming, no control characters.
pub fn display_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("must not be empty".into());
    }
    if t.chars().count() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if t.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(t.to_string())
}

/// Free text of at most `max` characters, no control characters except newlines and tabs.
pub fn free_text(s: &str, max: usize) -> Result<String, String> {
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_string())
}

/// A cluster name: 3–63 lowercase letters, digits and hyphens, starting with a letter and
/// not ending with a hyphen (a valid DNS label, as endpoints are derived from it).
pub fn cluster_name(s: &str) -> Result<String, String> {
    let ok_len = (3..=63).contains(&s.len());
    let ok_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) && !s.ends_with('-');
    if ok_len && ok_chars && ok_ends {
        Ok(s.to_string())
    } else {
        Err("must be 3-63 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen".into())
    }
}

/// An identifier such as a bucket or database-user name: 1–`max` characters from
/// letters, digits and `_ - . %` (`%` only when `allow_percent`), not starting with `.`.
pub fn identifier(s: &str, max: usize, allow_percent: bool) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || (allow_percent && b == b'%'));
    if ok {
        Ok(s.to_string())
    } else {
        let extra = if allow_percent { ", `%`" } else { "" };
        Err(format!("must be 1-{max} letters, digits, `_`, `-`, `.`{extra}, not starting with `.`"))
    }
}

/// A network: an IPv4/IPv6 CIDR, or a bare address meaning a single host. Host bits must
/// be zero. Returns the canonical form.
pub fn cidr(s: &str) -> Result<String, String> {
    let s = s.trim();
    let net: IpNet = if s.contains('/') {
        s.parse().map_err(|_| format!("`{s}` is not a valid CIDR"))?
    } else {
        let ip: IpAddr = s.parse().map_err(|_| format!("`{s}` is not a valid IP address or CIDR"))?;
        IpNet::from(ip)
    };
    if net.trunc() != net {
        return Err(format!("`{s}` has host bits set; did you mean `{}`?", net.trunc()));
    }
    Ok(net.to_string())
}

/// An IPv4 virtual-network CIDR with a prefix length of 8–28.
pub fn vpc_cidr(s: &str) -> Result<String, String> {
    let c = cidr(s)?;
    match c.parse::<IpNet>() {
        Ok(IpNet::V4(n)) if (8..=28).contains(&n.prefix_len()) => Ok(c),
        _ => Err("must be an IPv4 CIDR with a prefix length between 8 and 28".into()),
    }
}

/// A database version: one to three dot-separated numbers.
pub fn version(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('.').collect();
    let ok = (1..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok { Ok(s.to_string()) } else { Err("must look like `7.6` or `7.6.2`".into()) }
}

/// A node size (instance type): 1–64 letters, digits, `.`, `-`, `_`.
pub fn node_size(s: &str) -> Result<String, String> {
    identifier(s, 64, false).map_err(|_| "must be 1-64 letters, digits, `.`, `-`, `_`".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(cidr("192.168.1.7").unwrap(), "192.168.1.7/32");
        assert_eq!(cidr("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(cidr("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        for bad in ["", "300.1.1.1", "10.0.0.0/33", "abc", "10.0.0.0/", "1.2.3"] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
        assert!(vpc_cidr("10.0.0.0/16").is_ok());
        assert!(vpc_cidr("10.0.0.0/30").is_err());
        assert!(vpc_cidr("fd00::/16").is_err());
    }

    #[test]
    fn names() {
        assert!(cluster_name("prod-1").is_ok());
        for bad in ["ab", "1abc", "Abc", "abc-", "a_b_c", &"a".repeat(64)] {
            assert!(cluster_name(bad).is_err(), "{bad}");
        }
        assert_eq!(display_name("  x ").unwrap(), "x");
        assert!(display_name(" ").is_err());
        assert!(identifier("travel-sample", 100, true).is_ok());
        assert!(identifier(".x", 100, true).is_err());
        assert!(version("7.6.2").is_ok() && version("7.x").is_err() && version("").is_err());
    }
}
