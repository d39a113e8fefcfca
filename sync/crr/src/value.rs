//! SQLite values as the engine sees them: owned and borrowed forms, and the total order that
//! decides ties between concurrent writes. The order across types is the real cr-sqlite
//! 0.16.3's (NULL < BLOB < TEXT < REAL < INTEGER, observed against it), so a Carebook node and
//! a cr-sqlite node pick the same winner; within reals it is exact to the bit.

use std::cmp::Ordering;

use crate::ffi::{raw, sqlite3_value};

/// A borrowed SQLite value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// An owned SQLite value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl<'a> ValueRef<'a> {
    /// Reads a value SQLite handed us (valid for the duration of the call).
    ///
    /// # Safety
    /// `v` must be a live value of the current call.
    pub unsafe fn from_raw(v: *mut sqlite3_value) -> ValueRef<'a> {
        match raw::value_type(v) {
            1 => ValueRef::Int(raw::value_i64(v)),
            2 => ValueRef::Real(raw::value_f64(v)),
            3 => ValueRef::Text(raw::value_bytes(v, true)),
            4 => ValueRef::Blob(raw::value_bytes(v, false)),
            _ => ValueRef::Null,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(t.to_vec()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    /// Rank of the type in cr-sqlite 0.16's tie-break: the smaller SQLite type code wins.
    fn class(self) -> u8 {
        match self {
            ValueRef::Null => 0,
            ValueRef::Blob(_) => 1,
            ValueRef::Text(_) => 2,
            ValueRef::Real(_) => 3,
            ValueRef::Int(_) => 4,
        }
    }

    /// The total order used to break ties: by type as cr-sqlite 0.16 does (so an integer beats
    /// any real and text beats any blob), then by value; reals by their exact bits, so -0.0 and
    /// 0.0 are different values that every replica orders the same way.
    pub fn total_cmp(self, other: ValueRef<'_>) -> Ordering {
        match (self, other) {
            (ValueRef::Int(a), ValueRef::Int(b)) => a.cmp(&b),
            (ValueRef::Real(a), ValueRef::Real(b)) => a.total_cmp(&b),
            (ValueRef::Text(a), ValueRef::Text(b)) | (ValueRef::Blob(a), ValueRef::Blob(b)) => {
                a.cmp(b)
            }
            (a, b) => a.class().cmp(&b.class()),
        }
    }

    /// True when the two values are the same value to the bit (and of the same type).
    pub fn same(self, other: ValueRef<'_>) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Value {
    /// Copies a value SQLite handed us.
    ///
    /// # Safety
    /// `v` must be a live value.
    pub unsafe fn from_raw(v: *mut sqlite3_value) -> Value {
        ValueRef::from_raw(v).to_value()
    }

    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }

    pub fn text(s: &str) -> Value {
        Value::Text(s.as_bytes().to_vec())
    }

    /// Sets this value as the result of a function or a virtual table column.
    pub fn result(&self, ctx: *mut sqlite_loadable::ext::sqlite3_context) {
        use sqlite_loadable::api;
        match self {
            Value::Null => api::result_null(ctx),
            Value::Int(i) => api::result_int64(ctx, *i),
            Value::Real(f) => api::result_double(ctx, *f),
            // SAFETY: ctx is the live context of the current call.
            Value::Text(t) => unsafe { crate::ffi::raw::result_text(ctx, t) },
            Value::Blob(b) => api::result_blob(ctx, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_types_then_values() {
        // As observed with the real cr-sqlite 0.16.3: NULL < BLOB < TEXT < REAL < INTEGER.
        let vals = [
            ValueRef::Null,
            ValueRef::Blob(b""),
            ValueRef::Blob(b"\x00"),
            ValueRef::Blob(b"a"),
            ValueRef::Text(b""),
            ValueRef::Text(b"a"),
            ValueRef::Text(b"b"),
            ValueRef::Real(-1e300),
            ValueRef::Real(-0.0),
            ValueRef::Real(0.0),
            ValueRef::Real(1e-300),
            ValueRef::Real(1.5),
            ValueRef::Int(i64::MIN),
            ValueRef::Int(-3),
            ValueRef::Int(0),
            ValueRef::Int(5),
        ];
        for (i, a) in vals.iter().enumerate() {
            for (j, b) in vals.iter().enumerate() {
                assert_eq!(a.total_cmp(*b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn equal_numbers_of_different_types_are_different_values() {
        assert!(!ValueRef::Real(-0.0).same(ValueRef::Real(0.0)));
        assert!(!ValueRef::Int(1).same(ValueRef::Real(1.0)));
        assert_eq!(
            ValueRef::Int(0).total_cmp(ValueRef::Real(1.5)),
            Ordering::Greater
        );
    }
}
