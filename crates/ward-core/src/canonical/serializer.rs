//! A serde `Serializer` that writes canonical JSON directly, without first
//! building a `serde_json::Value`.
//!
//! It gives exactly the bytes that `serde_json::to_value` followed by the
//! canonical writer of a `Value` would give (a property test holds it to
//! that): `None` and unit are `null`, a non-finite float is `null`, a unit
//! variant is its name, other variants are `{"name": ...}`, and a key that
//! appears twice in one map keeps its last value. What changes is the cost:
//! a decision's request digest and its audit entry are hashed and signed on
//! every call, and the `Value` tree was most of their allocations.
//!
//! Object members are written into a scratch buffer as they come, then
//! sorted by their keys' UTF-16 code units and copied out. A member whose
//! value holds an unsafe integer is kept as that error until the sort, so
//! the integer named is the first one in canonical order, and the value
//! of a repeated key that is dropped cannot fail the object: both as the
//! `Value` path does it, whatever order a map hands its members over in.
//! For the same reason an array's unsafe integer is the error only once
//! every later element has been written without another kind of failure.

use std::borrow::Cow;
use std::fmt::Display;
use std::ops::Range;

use serde::ser::{self, Impossible, Serialize};

use super::{write_f64, write_i64, write_string, write_u64, CanonicalError};

impl ser::Error for CanonicalError {
    fn custom<T: Display>(msg: T) -> Self {
        CanonicalError::NotJson(msg.to_string())
    }
}

/// Writes one value's canonical form at the end of `out`.
pub(super) struct Canon<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

type Result<T> = std::result::Result<T, CanonicalError>;

impl<'a> ser::Serializer for Canon<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<()> {
        match u64::try_from(v) {
            Ok(u) => write_u64(self.out, u),
            Err(_) => write_i64(self.out, v),
        }
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        if let Ok(u) = u64::try_from(v) {
            return write_u64(self.out, u);
        }
        match i64::try_from(v) {
            Ok(i) => write_i64(self.out, i),
            Err(_) => Err(CanonicalError::NotJson("number out of range".into())),
        }
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        write_u64(self.out, u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        write_u64(self.out, u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        write_u64(self.out, u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<()> {
        write_u64(self.out, v)
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        match u64::try_from(v) {
            Ok(u) => write_u64(self.out, u),
            Err(_) => Err(CanonicalError::NotJson("number out of range".into())),
        }
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        // serde_json turns a non-finite float into `null`.
        if v.is_finite() {
            write_f64(self.out, v);
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        write_string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        write_string(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        // A one-member object: nothing to sort.
        self.out.push(b'{');
        write_string(self.out, variant);
        self.out.push(b':');
        value.serialize(Canon { out: self.out })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>> {
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
            variant: false,
            unsafe_integer: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>> {
        self.out.push(b'{');
        write_string(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Seq {
            out: self.out,
            first: true,
            variant: true,
            unsafe_integer: None,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Object<'a>> {
        Ok(Object::new(self.out, len.unwrap_or(0), None))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Object<'a>> {
        Ok(Object::new(self.out, len, None))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object<'a>> {
        Ok(Object::new(self.out, len, Some(variant)))
    }
}

/// An array (or a tuple variant's `{"name":[...]}`) being written.
pub(super) struct Seq<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
    /// The first unsafe integer of the elements so far. It is the error
    /// only if no later element fails otherwise: the `Value` path meets
    /// every other failure (a `u128` out of range, a map key that is not a
    /// string) while it builds the tree, before it looks at any integer.
    unsafe_integer: Option<String>,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        match value.serialize(Canon { out: self.out }) {
            Err(CanonicalError::UnsafeInteger(n)) => {
                self.unsafe_integer.get_or_insert(n);
                Ok(())
            }
            other => other,
        }
    }

    fn finish(self) -> Result<()> {
        if let Some(n) = self.unsafe_integer {
            return Err(CanonicalError::UnsafeInteger(n));
        }
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// Where a member's value sits in an object's scratch buffer, or the
/// unsafe integer that the value holds.
type Written = std::result::Result<Range<usize>, String>;

/// An object being written: members collect in `buf` until the end, when
/// they are sorted and copied to `out`.
pub(super) struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// For a struct variant, the name of the one-member object around it.
    variant: Option<&'static str>,
    buf: Vec<u8>,
    members: Vec<(Cow<'static, str>, Written)>,
    /// A map's key, waiting for its value.
    key: Option<Cow<'static, str>>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, len: usize, variant: Option<&'static str>) -> Object<'a> {
        Object {
            out,
            variant,
            buf: Vec::with_capacity(len.saturating_mul(24)),
            members: Vec::with_capacity(len),
            key: None,
        }
    }

    fn member<T: Serialize + ?Sized>(&mut self, key: Cow<'static, str>, value: &T) -> Result<()> {
        let start = self.buf.len();
        let written = match value.serialize(Canon { out: &mut self.buf }) {
            Ok(()) => Ok(start..self.buf.len()),
            Err(CanonicalError::UnsafeInteger(n)) => {
                self.buf.truncate(start);
                Err(n)
            }
            Err(other) => return Err(other),
        };
        self.members.push((key, written));
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if let Some(name) = self.variant {
            self.out.push(b'{');
            write_string(self.out, name);
            self.out.push(b':');
        }
        // Stable, so among members with one key the last one written is
        // last; it is the one kept, as a JSON object keeps it.
        self.members
            .sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
        self.out.push(b'{');
        let mut first = true;
        let mut members = self.members.iter().peekable();
        while let Some((key, range)) = members.next() {
            if members.peek().is_some_and(|(next, _)| next == key) {
                continue;
            }
            let range = match range {
                Ok(range) => range.clone(),
                Err(n) => return Err(CanonicalError::UnsafeInteger(n.clone())),
            };
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_string(self.out, key);
            self.out.push(b':');
            self.out
                .extend_from_slice(self.buf.get(range).unwrap_or_default());
        }
        self.out.push(b'}');
        if self.variant.is_some() {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(Cow::Owned(key.serialize(KeyText)?));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| CanonicalError::NotJson("a map value came without its key".into()))?;
        self.member(key, value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.member(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// A map key as text: strings, and what serde_json also turns into a
/// string key (numbers, booleans, chars and unit variants).
struct KeyText;

fn key_must_be_a_string() -> CanonicalError {
    CanonicalError::NotJson("key must be a string".into())
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = Impossible<String, CanonicalError>;
    type SerializeTuple = Impossible<String, CanonicalError>;
    type SerializeTupleStruct = Impossible<String, CanonicalError>;
    type SerializeTupleVariant = Impossible<String, CanonicalError>;
    type SerializeMap = Impossible<String, CanonicalError>;
    type SerializeStruct = Impossible<String, CanonicalError>;
    type SerializeStructVariant = Impossible<String, CanonicalError>;

    fn serialize_bool(self, v: bool) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _v: f64) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_char(self, v: char) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_must_be_a_string())
    }
}
