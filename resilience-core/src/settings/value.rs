//! How one setting's value is read and written: durations as human strings (`"250ms"`,
//! `"2s"`, `"1m 30s"`), numbers as numbers; the same parsing for environment overrides.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A type a setting can hold.
pub(crate) trait Value: Sized + Clone {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
    /// Parses an environment variable's text.
    fn parse(text: &str) -> Result<Self, String>;
}

macro_rules! number {
    ($($t:ty => $what:literal),*) => {$(
        impl Value for $t {
            fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.serialize(s)
            }
            fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::deserialize(d)
            }
            fn parse(text: &str) -> Result<Self, String> {
                text.trim()
                    .parse()
                    .map_err(|_| format!("expected {}, got {text:?}", $what))
            }
        }
    )*};
}

number!(u32 => "a whole number", u64 => "a whole number", usize => "a whole number", f64 => "a number");

impl Value for bool {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*self)
    }

    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bool::deserialize(d)
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, got {text:?}")),
        }
    }
}

impl Value for Duration {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*self))
    }

    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_text(d)
    }

    fn parse(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim()).map_err(|e| {
            format!("expected a duration such as \"250ms\" or \"2s\", got {text:?} ({e})")
        })
    }
}

/// A value written as a string in a document, parsed as in an environment variable.
pub(crate) fn read_text<'de, T: Value, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    T::parse(&text).map_err(D::Error::custom)
}

/// The value of `words` that `text` names.
pub(crate) fn word<T: Copy>(text: &str, words: &[(&'static str, T)]) -> Result<T, String> {
    let text = text.trim();
    if let Some((_, value)) = words.iter().find(|(w, _)| *w == text) {
        return Ok(*value);
    }
    let quoted: Vec<String> = words.iter().map(|(w, _)| format!("\"{w}\"")).collect();
    Err(match quoted.as_slice() {
        [one, other] => format!("expected {one} or {other}, got {text:?}"),
        all => format!("expected one of {}, got {text:?}", all.join(", ")),
    })
}

/// [`Value`] for an enum written as one of a few words: `words!(Type { "word" =>
/// Type::Variant, ... })`.
macro_rules! words {
    ($ty:ty { $($word:literal => $variant:path),+ $(,)? }) => {
        impl $crate::settings::value::Value for $ty {
            fn write<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(match self {
                    $($variant => $word),+
                })
            }

            fn read<'de, D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::settings::value::read_text(d)
            }

            fn parse(text: &str) -> Result<Self, String> {
                $crate::settings::value::word(text, &[$(($word, $variant)),+])
            }
        }
    };
}
pub(crate) use words;

/// `#[serde(with = "value")]` for an optional setting.
pub(crate) fn serialize<T: Value, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => v.write(s),
        None => s.serialize_none(),
    }
}

/// `#[serde(with = "value")]` for an optional setting: present means `Some`.
pub(crate) fn deserialize<'de, T: Value, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::read(d).map(Some)
}
