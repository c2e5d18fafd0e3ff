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

/// Serializes any value to its canonical JSON bytes.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::NotJson(e.to_string()))?;
    canonical_json(&value)
}

/// The canonical JSON bytes of a JSON value.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
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
                write_value(out, item)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::UnsafeInteger(n.to_string()));
        }
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::UnsafeInteger(n.to_string()));
        }
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        // serde_json never yields NaN or infinities; ryu-js prints -0 as "0".
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format(f).as_bytes());
    } else {
        return Err(CanonicalError::NotJson(n.to_string()));
    }
    Ok(())
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
    use serde_json::json;

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
