//! [`Name`]: a cheaply clonable string for operation and instance names.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A name that clones without allocating: operation names, instance names, field values.
///
/// Names come from configuration (`"payments"`) or from code (`"payments.charge"`), are
/// created once and then cloned into every error and metric label that mentions them. A
/// `Name` is either a `&'static str` or a shared `Arc<str>`, so a clone is a copy or a
/// reference-count increment, never a new `String`.
///
/// ```
/// use resilience_core::Name;
///
/// let fixed = Name::from_static("payments");
/// let built = Name::from(format!("pay{}", "ments"));
/// assert_eq!(fixed, built);
/// assert_eq!(built.as_str(), "payments");
/// ```
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    /// A name borrowed for the whole program; usable in `const` and `static` items.
    pub const fn from_static(name: &'static str) -> Self {
        Self(Repr::Static(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// The same name, borrowed for the whole program: a static name as it is, any other
    /// leaked once per distinct name for the life of the process (so keep this to names
    /// from code and configuration, which are few). Its clones are plain copies, with no
    /// reference count for threads to contend on.
    pub(crate) fn interned(self) -> Self {
        use std::collections::BTreeSet;
        use std::sync::{Mutex, PoisonError};

        static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let Repr::Shared(shared) = &self.0 else {
            return self;
        };
        let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&known) = names.get(&**shared) {
            return Self::from_static(known);
        }
        let leaked: &'static str = Box::leak(Box::<str>::from(&**shared));
        names.insert(leaked);
        Self::from_static(leaked)
    }

    /// The name as a `metrics` label value, without copying the characters.
    pub fn to_shared_string(&self) -> metrics::SharedString {
        match &self.0 {
            Repr::Static(s) => metrics::SharedString::const_str(s),
            Repr::Shared(s) => metrics::SharedString::from(Arc::clone(s)),
        }
    }
}

impl From<&'static str> for Name {
    fn from(name: &'static str) -> Self {
        Self::from_static(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Self(Repr::Shared(name))
    }
}

impl From<Box<str>> for Name {
    fn from(name: Box<str>) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        name.clone()
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    // Hashes like `str`, as `Borrow<str>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name serializes as its string.
#[cfg(feature = "serde")]
impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn static_and_shared_names_compare_and_hash_as_str() {
        let mut map = HashMap::new();
        map.insert(Name::from(String::from("orders")), 1);
        assert_eq!(map.get("orders"), Some(&1));
        assert_eq!(
            Name::from_static("orders"),
            Name::from(String::from("orders"))
        );
        let mut names = [Name::from(String::from("b")), Name::from_static("a")];
        names.sort();
        assert_eq!(names.map(|n| n.to_string()), ["a", "b"]);
    }

    #[test]
    fn shared_name_clones_share_the_allocation() {
        let name = Name::from(String::from("inventory"));
        let copy = name.clone();
        assert!(std::ptr::eq(name.as_str(), copy.as_str()));
        assert_eq!(copy.to_shared_string().as_ref(), "inventory");
    }
}
