//! Free key–value context on an error ([`FieldValue`]).

use std::fmt;
use std::time::Duration;

use crate::Name;

/// The value of a free key–value pair attached with
/// [`Error::with_field`](crate::Error::with_field).
///
/// Values keep their type so that `tracing` and structured logs get numbers as numbers.
///
/// ```
/// use resilience_core::{Error, ErrorKind, FieldValue};
///
/// let err = Error::new(ErrorKind::Timeout).with_field("shard", 7_u64);
/// assert_eq!(err.field("shard"), Some(&FieldValue::U64(7)));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// Text.
    Str(Name),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A floating-point number.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A duration; displayed in human units (`1.5s`).
    Duration(Duration),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(v) => f.write_str(v),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Duration(v) => write!(f, "{v:?}"),
        }
    }
}

macro_rules! field_value_from {
    ($variant:ident: $($ty:ty => $conv:expr),* $(,)?) => {
        $(
            impl From<$ty> for FieldValue {
                fn from(value: $ty) -> Self {
                    let convert: fn($ty) -> _ = $conv;
                    FieldValue::$variant(convert(value))
                }
            }
        )*
    };
}

field_value_from!(Str: &'static str => Name::from, String => Name::from, Name => |n| n);
field_value_from!(I64: i64 => |v| v, i32 => i64::from, i16 => i64::from, i8 => i64::from);
field_value_from!(U64: u64 => |v| v, u32 => u64::from, u16 => u64::from, u8 => u64::from);
field_value_from!(F64: f64 => |v| v, f32 => f64::from);
field_value_from!(Bool: bool => |v| v);
field_value_from!(Duration: Duration => |v| v);

impl From<usize> for FieldValue {
    fn from(value: usize) -> Self {
        // `usize` is at most 64 bits on every supported target.
        FieldValue::U64(u64::try_from(value).unwrap_or(u64::MAX))
    }
}
