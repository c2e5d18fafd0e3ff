//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! The bytes produced here are hashed and signed, so they are specified
//! exactly: object members sorted by their UTF-16 code units, no whitespace,
//! strings escaped minimally (only `"`, `\` and control characters, with the
//! short forms `\b \t \n \f \r` and lowercase `\u00xx` otherwise), and numbers
//! printed as ECMAScript's `Number.prototype.toString` prints an IEEE double.
//!
//! Integers beyond ±2^53 cannot be represented exactly as a double. Rather than
//! let two distinct requests share one canonical form (and so one digest), they
//! are refused.

use serde::Serialize;
use serde_json::Value;

/// The largest integer magnitude a double holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// An integer too large to be represented exactly as a double.
    #[error("integer `{0}` is outside ±(2^53 - 1) and has no exact canonical form")]
    UnsafeInteger(String),
    /// The value could not be turned into JSON at all.
    #[error("value is not representable as JSON: {0}")]
    NotJson(String),
}

mod serializer;

/// Serializes any value to its canonical JSON bytes: the bytes the value's
/// `serde_json::Value` would have, written directly.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    value.serialize(serializer::Canon { out: &mut out })?;
    Ok(out)
}

/// The canonical JSON bytes of a JSON value.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_json(value)
}

fn write_u64(out: &mut Vec<u8>, u: u64) -> Result<(), CanonicalError> {
    if u > MAX_SAFE_INTEGER {
        return Err(CanonicalError::UnsafeInteger(u.to_string()));
    }
    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    Ok(())
}

fn write_i64(out: &mut Vec<u8>, i: i64) -> Result<(), CanonicalError> {
    if i.unsigned_abs() > MAX_SAFE_INTEGER {
        return Err(CanonicalError::UnsafeInteger(i.to_string()));
    }
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    Ok(())
}

/// A finite double as ECMAScript prints it (ryu-js prints -0 as "0").
fn write_f64(out: &mut Vec<u8>, f: f64) {
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format(f).as_bytes());
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut run_start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(s.as_bytes().get(run_start..i).unwrap_or_default());
        run_start = i + 1;
        match escape {
            Some(esc) => out.extend_from_slice(esc),
            None => {
                let hi = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0');
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
            }
        }
    }
    out.extend_from_slice(s.as_bytes().get(run_start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The reference: the canonical form of a `Value`, written by walking
    /// the tree (what `to_canonical_json` did through `serde_json::to_value`
    /// before it wrote directly). The direct serializer must agree with it.
    fn oracle(value: &Value) -> Result<Vec<u8>, CanonicalError> {
        fn walk(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
            match value {
                Value::Null => out.extend_from_slice(b"null"),
                Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        write_u64(out, u)?;
                    } else if let Some(i) = n.as_i64() {
                        write_i64(out, i)?;
                    } else {
                        write_f64(out, n.as_f64().unwrap());
                    }
                }
                Value::String(s) => write_string(out, s),
                Value::Array(items) => {
                    out.push(b'[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        walk(out, item)?;
                    }
                    out.push(b']');
                }
                Value::Object(map) => {
                    let mut members: Vec<(&String, &Value)> = map.iter().collect();
                    members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
                    out.push(b'{');
                    for (i, (key, item)) in members.into_iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_string(out, key);
                        out.push(b':');
                        walk(out, item)?;
                    }
                    out.push(b'}');
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&mut out, value)?;
        Ok(out)
    }

    /// The old path for any serializable value: its `Value`, then the oracle.
    fn via_value<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
        oracle(&serde_json::to_value(value).map_err(|e| CanonicalError::NotJson(e.to_string()))?)
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}|[\\x00-\\x20\"\\\\\u{e000}\u{10000}\u{1f600}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c\u{e000}\u{10000}\u{80}\r]{0,3}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Every shape serde gives a serializer, with a value each.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Shape {
        Unit,
        Newtype(Option<i32>),
        Tuple(u8, String),
        Struct { z: f32, a: Option<bool>, m: char },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Wrapped(u16);

    #[derive(Serialize)]
    struct Every {
        zeta: Vec<Shape>,
        alpha: (i8, u128, i128),
        unit: Unit,
        wrapped: Wrapped,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        none: Option<u8>,
        bytes: serde_bytes_like::Bytes,
        keyed: std::collections::BTreeMap<u32, Shape>,
        by_bool: std::collections::BTreeMap<bool, ()>,
        #[serde(flatten)]
        flat: std::collections::BTreeMap<String, f64>,
    }

    mod serde_bytes_like {
        /// Serialized with `serialize_bytes`.
        pub(super) struct Bytes(pub(super) Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_serde_shape_matches_the_value_path() {
        let every = Every {
            zeta: vec![
                Shape::Unit,
                Shape::Newtype(None),
                Shape::Newtype(Some(-7)),
                Shape::Tuple(3, "t\n".into()),
                Shape::Struct {
                    z: 0.1,
                    a: None,
                    m: '\u{1f600}',
                },
            ],
            alpha: (-128, 9_007_199_254_740_991, -9_007_199_254_740_991),
            unit: Unit,
            wrapped: Wrapped(65_535),
            skipped: None,
            none: None,
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            keyed: [(10, Shape::Unit), (9, Shape::Newtype(Some(1)))].into(),
            by_bool: [(true, ()), (false, ())].into(),
            flat: [
                ("nan".to_owned(), f64::NAN),
                ("inf".into(), f64::INFINITY),
                ("x".into(), -0.0),
            ]
            .into(),
        };
        let direct = to_canonical_json(&every).unwrap();
        assert_eq!(direct, via_value(&every).unwrap());
        // Keys sorted at every level, numbers keyed as text, non-finite as null.
        let text = String::from_utf8(direct).unwrap();
        assert!(text.starts_with("{\"alpha\":[-128,9007199254740991,-9007199254740991],\"by_bool\":{\"false\":null,\"true\":null},\"bytes\":[0,255],\"inf\":null,\"keyed\":{\"10\":\"unit\",\"9\":{\"newtype\":1}},\"nan\":null,\"none\":null,"), "{text}");
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_bad_numbers_are_refused() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("b", &1)?;
                m.serialize_entry("a", &2)?;
                m.serialize_entry("b", &3)?;
                m.end()
            }
        }
        assert_eq!(to_canonical_json(&Twice).unwrap(), b"{\"a\":2,\"b\":3}");
        assert_eq!(via_value(&Twice).unwrap(), b"{\"a\":2,\"b\":3}");
        assert!(matches!(
            to_canonical_json(&u128::MAX),
            Err(CanonicalError::NotJson(_))
        ));
        assert_eq!(
            to_canonical_json(&(1u64 << 53)),
            Err(CanonicalError::UnsafeInteger("9007199254740992".into()))
        );
        struct FloatKey;
        impl Serialize for FloatKey {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(&1.5f64, &1)?;
                m.end()
            }
        }
        assert!(to_canonical_json(&FloatKey).is_err());
    }

    #[test]
    fn the_unsafe_integer_named_is_the_first_in_canonical_order() {
        // U+10000 is a surrogate pair in UTF-16 and sorts before U+E000,
        // though it comes after it in code point order (CI found this one).
        let v = json!([{"\u{e000}": -9007199254740993i64, "\u{10000}": -9007199254740992i64}]);
        let named = Err(CanonicalError::UnsafeInteger("-9007199254740992".into()));
        assert_eq!(oracle(&v), named);
        assert_eq!(to_canonical_json(&v), named);
        // Handed over in either order, the same integer is named.
        struct InOrder<'a>(&'a [(&'a str, i64)]);
        impl Serialize for InOrder<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let (a, b) = (
            ("\u{e000}", -(1i64 << 53) - 1),
            ("\u{10000}", -(1i64 << 53)),
        );
        assert_eq!(to_canonical_json(&InOrder(&[a, b])), named);
        assert_eq!(to_canonical_json(&InOrder(&[b, a])), named);
        // A repeated key's dropped value does not fail the object.
        assert_eq!(
            to_canonical_json(&InOrder(&[("k", 1i64 << 60), ("k", 1)])).unwrap(),
            b"{\"k\":1}"
        );
        assert_eq!(
            to_canonical_json(&InOrder(&[("k", 1), ("k", 1i64 << 60)])),
            Err(CanonicalError::UnsafeInteger("1152921504606846976".into()))
        );
    }

    #[test]
    fn an_array_fails_as_the_value_walk_does_whatever_order_its_failures_come_in() {
        // `to_value` refuses a u128 past u64 before any integer is looked
        // at, so it is that failure that is reported, not the unsafe
        // integer before it.
        let big = u128::from(u64::MAX) + 1;
        let unsafe_first = (1u64 << 60, big);
        assert!(matches!(
            via_value(&unsafe_first),
            Err(CanonicalError::NotJson(_))
        ));
        assert!(matches!(
            to_canonical_json(&unsafe_first),
            Err(CanonicalError::NotJson(_))
        ));
        let in_a_vec = (vec![1u64 << 60], [big]);
        assert!(matches!(
            to_canonical_json(&in_a_vec),
            Err(CanonicalError::NotJson(_))
        ));
        // With no other failure, the first unsafe integer is named.
        let two = [1u64 << 60, 1u64 << 61];
        let named = Err(CanonicalError::UnsafeInteger("1152921504606846976".into()));
        assert_eq!(via_value(&two), named);
        assert_eq!(to_canonical_json(&two), named);
    }

    proptest! {
        #[test]
        fn direct_serializer_matches_the_value_walk(v in any_value()) {
            prop_assert_eq!(to_canonical_json(&v), oracle(&v));
        }
    }

    fn jcs(v: Value) -> String {
        String::from_utf8(canonical_json(&v).unwrap()).unwrap()
    }

    #[test]
    fn rfc8785_sorting_is_by_utf16_code_units() {
        // RFC 8785 §3.2.3's example: keys ordered by UTF-16 code units.
        let v = json!({
            "\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{0080}": "Control", "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let out = jcs(v);
        let keys: Vec<usize> = [
            "\\r",
            "1",
            "\u{0080}",
            "\u{00f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ]
        .iter()
        .map(|k| out.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn rfc8785_numbers_follow_ecmascript() {
        let v: Value = serde_json::from_str(
            "[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0.0, 100]",
        )
        .unwrap();
        assert_eq!(jcs(v), "[333333333.3333333,1e+30,4.5,0.002,1e-27,0,100]");
    }

    #[test]
    fn strings_escape_minimally() {
        let v = json!({"a": "\u{0}\u{8}\t\n\u{c}\r\u{1f}\"\\/é€😀"});
        assert_eq!(
            jcs(v),
            "{\"a\":\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\/é€😀\"}"
        );
    }

    #[test]
    fn unsafe_integers_are_refused() {
        assert!(canonical_json(&json!(9_007_199_254_740_991u64)).is_ok());
        assert!(canonical_json(&json!(9_007_199_254_740_992u64)).is_err());
        assert!(canonical_json(&json!(-9_007_199_254_740_992i64)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_is_a_fixed_point(s in "\\PC*", n in -1_000_000i64..1_000_000, f in -1e12f64..1e12) {
            let v = json!({"s": s, "n": n, "f": f, "nested": [{"z": 1, "a": [s.clone()]}]});
            let once = canonical_json(&v).unwrap();
            let reparsed: Value = serde_json::from_slice(&once).unwrap();
            proptest::prop_assert_eq!(canonical_json(&reparsed).unwrap(), once);
        }
    }
}
