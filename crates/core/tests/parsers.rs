//! Property tests of the core's parsers of untrusted input: HMAC signatures, endpoint
//! candidates and `Couchbase-Timestamp` (signing), list cursors, CIDRs and names
//! (validate), bearer tokens and access key ids (keys). Each never panics, accepts what its
//! own encoder makes (round trip) and refuses altered input. Case counts are bounded so the
//! whole file runs in a few seconds under `cargo test`.

use dbcloud_core::{cursor, keys, signing, validate};
use proptest::prelude::*;
use uuid::Uuid;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// Printable strings with the characters parsers split on, plus arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,80}", "[ -~]{0,80}", "[0-9a-fA-F:/._=c1-]{0,48}"]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signatures_round_trip_and_never_panic(secret in text(), method in "[A-Za-z]{1,7}", endpoint in text(), ts in "[0-9]{1,16}", junk in text()) {
        let sig = signing::sign(&secret, &method, &endpoint, &ts);
        let raw = signing::decode_signature(&sig).expect("its own signature decodes");
        prop_assert_eq!(raw.len(), 32);
        prop_assert_eq!(signing::decode_signature(sig.trim_end_matches('=')), Some(raw.clone()), "padding is optional");
        prop_assert!(signing::verify(&secret, &method, std::slice::from_ref(&endpoint), &ts, &raw));
        prop_assert!(!signing::verify(&format!("{secret}x"), &method, std::slice::from_ref(&endpoint), &ts, &raw), "another secret");
        prop_assert!(!signing::verify(&secret, &method, &[format!("{endpoint}/")], &ts, &raw), "another endpoint");
        // Any other string decodes to 32 bytes or to nothing, without panicking.
        if let Some(d) = signing::decode_signature(&junk) {
            prop_assert_eq!(d.len(), 32);
        }
    }

    #[test]
    fn a_changed_signature_character_is_refused(secret in text(), endpoint in text(), pos in 0usize..43, by in 1u8..63) {
        let sig = signing::sign(&secret, "GET", &endpoint, "1700000000000");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bytes = sig.into_bytes();
        let i = alphabet.iter().position(|c| *c == bytes[pos]).unwrap();
        bytes[pos] = alphabet[(i + by as usize) % 64];
        let tampered = String::from_utf8(bytes).unwrap();
        if let Some(raw) = signing::decode_signature(&tampered) {
            prop_assert!(!signing::verify(&secret, "GET", std::slice::from_ref(&endpoint), "1700000000000", &raw));
        }
    }

    #[test]
    fn candidates_start_with_the_request_and_cover_what_clients_sign(path in "(/[a-z0-9%.]{0,8}){1,4}(\\?[a-z=&0-9]{0,12})?", host in proptest::option::of("[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?"), junk in text(), junk_host in proptest::option::of(text())) {
        let c = signing::candidates(&path, host.as_deref());
        prop_assert_eq!(&c[0], &path);
        if let Some(h) = &host {
            let absolute = format!("http://{}{path}", h.to_ascii_lowercase());
            prop_assert!(c.contains(&absolute), "{} missing from {:?}", absolute, c);
            let sig = signing::decode_signature(&signing::sign("k", "GET", &absolute, "1")).unwrap();
            prop_assert!(signing::verify("k", "GET", &c, "1", &sig));
        }
        prop_assert!(c.len() <= 16, "a small fixed set: {:?}", c);
        // Arbitrary input never panics.
        let _ = signing::candidates(&junk, junk_host.as_deref());
    }

    #[test]
    fn timestamps_never_panic_and_accept_only_the_window(header in text(), now in any::<i64>(), skew in any::<i64>()) {
        if let Ok(ms) = signing::check_timestamp(&header, now, skew) {
            prop_assert!(!header.is_empty() && header.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(now.abs_diff(ms) <= skew.max(0).unsigned_abs());
        }
    }

    #[test]
    fn timestamps_within_the_skew_are_accepted(now in 100_000_000_000i64..4_000_000_000_000, off in -300_000i64..=300_000) {
        let t = now + off;
        prop_assert_eq!(signing::check_timestamp(&t.to_string(), now, signing::DEFAULT_SKEW_MS), Ok(t));
        prop_assert!(signing::check_timestamp(&(now + 300_001).to_string(), now, signing::DEFAULT_SKEW_MS).is_err());
        prop_assert_eq!(signing::check_timestamp(&(t / 1000).to_string(), now, signing::DEFAULT_SKEW_MS).is_ok(), (now - t / 1000 * 1000).abs() <= signing::DEFAULT_SKEW_MS, "seconds");
    }

    #[test]
    fn cursors_round_trip_and_one_position_has_one_cursor(id in any::<u128>(), junk in text(), pos in 3usize..35, c in "[0-9a-zA-Z-]") {
        let id = Uuid::from_u128(id);
        let enc = cursor::encode(id);
        prop_assert_eq!(cursor::decode(&enc).unwrap(), id);
        // Whatever decodes is exactly what encode makes of it: no second spelling.
        if let Ok(got) = cursor::decode(&junk) {
            prop_assert_eq!(cursor::encode(got), junk.clone());
        }
        let mut altered = enc.clone();
        altered.replace_range(pos..pos + 1, &c);
        match cursor::decode(&altered) {
            Ok(other) => prop_assert_eq!(altered == enc, other == id, "a different cursor is a different position"),
            Err(e) => prop_assert!(e.to_string().contains("cursor")),
        }
    }

    #[test]
    fn page_sizes_are_bounded(n in proptest::option::of(any::<u32>())) {
        match cursor::page_size(n) {
            Ok(v) => prop_assert!((1..=cursor::MAX_PAGE_SIZE).contains(&v)),
            Err(_) => prop_assert!(n.is_some_and(|n| n == 0 || n > cursor::MAX_PAGE_SIZE)),
        }
    }

    #[test]
    fn cidrs_are_canonical_and_never_panic(junk in text(), a in any::<[u8; 4]>(), prefix in 0u8..=32, v6 in any::<u128>(), prefix6 in 0u8..=128) {
        if let Ok(c) = validate::cidr(&junk) {
            prop_assert_eq!(validate::cidr(&c), Ok(c.clone()), "the canonical form is accepted as is");
        }
        let _ = validate::vpc_cidr(&junk);
        let net = ipnet::Ipv4Net::new(a.into(), prefix).unwrap();
        let s = format!("{}/{prefix}", net.network());
        prop_assert_eq!(validate::cidr(&s), Ok(s.clone()));
        if net.addr() != net.network() {
            prop_assert!(validate::cidr(&format!("{}/{prefix}", net.addr())).is_err(), "host bits set");
        }
        let net6 = ipnet::Ipv6Net::new(v6.into(), prefix6).unwrap().trunc();
        prop_assert_eq!(validate::cidr(&net6.to_string()), Ok(net6.to_string()));
    }

    #[test]
    fn names_are_checked_without_panicking(s in text()) {
        if let Ok(n) = validate::display_name(&s) {
            prop_assert_eq!(validate::display_name(&n), Ok(n.clone()));
            prop_assert!(!n.is_empty() && n.chars().count() <= 64);
        }
        if let Ok(n) = validate::cluster_name(&s) {
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        if let Ok(n) = validate::identifier(&s, 100, true) {
            prop_assert!(n.is_ascii() && !n.starts_with('.'));
        }
        let _ = validate::free_text(&s, 255);
        let _ = validate::version(&s);
        let _ = validate::node_size(&s);
    }

    #[test]
    fn bearer_tokens_split_back_and_foreign_ones_are_refused(id in "[0-9A-Za-z]{22}", secret in "[0-9A-Za-z]{1,128}", junk in text()) {
        let access = format!("{}{id}", keys::KEY_PREFIX);
        prop_assert!(keys::is_access_key(&access));
        let token = keys::bearer_token(&access, &secret);
        prop_assert_eq!(keys::split_bearer_token(&token), Some((access.as_str(), secret.as_str())));
        if let Some((a, s)) = keys::split_bearer_token(&junk) {
            prop_assert!(keys::is_access_key(a) && !s.is_empty() && !s.contains('_'));
            prop_assert_eq!(format!("{a}_{s}"), junk.clone());
        }
        prop_assert!(keys::split_bearer_token(&format!("{token}_")).is_none(), "an empty secret");
        prop_assert!(keys::split_bearer_token(&format!("{}x_{secret}", access)).is_none(), "a longer id");
    }
}
