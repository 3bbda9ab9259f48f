//! Deserialization helpers of request fields.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An integer field that takes any JSON number with an integral value: `3` and `3.0` alike,
/// as JSON (and JSON Schema's `integer`) has one number type. `3.5`, strings and values out
/// of the field's range are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Integral(i64);

struct IntegralVisitor;

impl Visitor<'_> for IntegralVisitor {
    type Value = Integral;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integral, E> {
        Ok(Integral(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integral, E> {
        i64::try_from(v).map(Integral).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Integral, E> {
        // 2^63, the first float past i64::MAX.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) { Ok(Integral(v as i64)) } else { Err(E::invalid_type(Unexpected::Float(v), &self)) }
    }
}

impl<'de> Deserialize<'de> for Integral {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntegralVisitor)
    }
}

fn narrow<T: TryFrom<i64>, E: de::Error>(v: Integral) -> Result<T, E> {
    T::try_from(v.0).map_err(|_| E::invalid_value(Unexpected::Signed(v.0), &"an integer in range"))
}

/// `#[serde(with = "crate::de::integral")]`: an integer field (see [`Integral`]).
pub mod integral {
    use super::*;

    /// Reads an integer.
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
        narrow(Integral::deserialize(d)?)
    }

    /// Writes an integer.
    pub fn serialize<S: Serializer, T: Serialize>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

/// `#[serde(default, with = "crate::de::integral_option")]`: an optional integer field;
/// `null` is absent.
pub mod integral_option {
    use super::*;

    /// Reads an optional integer.
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
        Option::<Integral>::deserialize(d)?.map(narrow).transpose()
    }

    /// Writes an optional integer.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(default, with = "super::integral_option")]
        n: Option<i32>,
        #[serde(default, with = "super::integral")]
        m: i64,
    }

    fn parse(s: &str) -> Result<T, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_numbers_only() {
        assert_eq!(parse(r#"{"n": 3, "m": -4}"#).unwrap().n, Some(3));
        assert_eq!(parse(r#"{"n": 3.0, "m": 5.0}"#).unwrap().m, 5);
        assert_eq!(parse(r#"{"n": null}"#).unwrap().n, None);
        assert_eq!(parse(r#"{}"#).unwrap().m, 0);
        for bad in [r#"{"n": 3.5}"#, r#"{"n": "3"}"#, r#"{"n": 3000000000}"#, r#"{"m": 1e300}"#, r#"{"m": 18446744073709551615}"#, r#"{"n": true}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
