//! The bytes a [`RedisStore`](super::RedisStore) keeps under a key.
//!
//! Version 1. Every value starts with the same 34 bytes, so the Lua scripts can compare the
//! fingerprint without decoding (`string.sub(value, 3, 34)`):
//!
//! ```text
//! lease (in flight):  01 'L' fingerprint[32] token:u64be                        (42 bytes)
//! record (completed): 01 'R' fingerprint[32] status:u16be header_count:u32be
//!                     header_count × ( name_len:u32be name value_len:u32be value )
//!                     body (the rest of the value)
//! ```
//!
//! A value whose version is not 1 (written by a newer release) is refused with a clear
//! error rather than guessed at.

use bytes::Bytes;

use super::super::store::{Fingerprint, Record};

/// The format version written in the first byte.
const VERSION: u8 = 1;
const LEASE: u8 = b'L';
const RECORD: u8 = b'R';
/// Version, tag and fingerprint.
const HEADER: usize = 2 + 32;
const LEASE_LEN: usize = HEADER + 8;

/// A decoded value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Value {
    /// In flight, claimed with this fencing token.
    Lease {
        fingerprint: Fingerprint,
        token: u64,
    },
    /// Completed.
    Record {
        fingerprint: Fingerprint,
        record: Record,
    },
}

/// Why a value could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CodecError(pub(super) &'static str);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad idempotency value: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// The value of a key in flight under `token`.
pub(super) fn encode_lease(fingerprint: &Fingerprint, token: u64) -> [u8; LEASE_LEN] {
    let mut out = [0; LEASE_LEN];
    out[0] = VERSION;
    out[1] = LEASE;
    out[2..HEADER].copy_from_slice(fingerprint.as_bytes());
    out[HEADER..].copy_from_slice(&token.to_be_bytes());
    out
}

/// The value of a completed key.
///
/// # Errors
///
/// When a header name or value, or the number of headers, exceeds `u32::MAX`.
pub(super) fn encode_record(
    fingerprint: &Fingerprint,
    record: &Record,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(HEADER + 6 + record.size() + 8 * record.headers().len());
    out.extend_from_slice(&[VERSION, RECORD]);
    out.extend_from_slice(fingerprint.as_bytes());
    out.extend_from_slice(&record.status().to_be_bytes());
    out.extend_from_slice(&len32(record.headers().len())?);
    for (name, value) in record.headers() {
        out.extend_from_slice(&len32(name.len())?);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&len32(value.len())?);
        out.extend_from_slice(value);
    }
    out.extend_from_slice(record.body());
    Ok(out)
}

fn len32(len: usize) -> Result<[u8; 4], CodecError> {
    u32::try_from(len)
        .map(u32::to_be_bytes)
        .map_err(|_| CodecError("a header is longer than 4 GiB"))
}

/// Decodes a value; the body of a record shares `value`'s allocation.
pub(super) fn decode(value: Bytes) -> Result<Value, CodecError> {
    let mut reader = Reader { value, at: 0 };
    let [version, tag] = reader.array::<2>()?;
    if version != VERSION {
        return Err(CodecError(
            "unknown format version (written by a newer release?)",
        ));
    }
    let fingerprint = Fingerprint::from_bytes(reader.array::<32>()?);
    match tag {
        LEASE => {
            let token = u64::from_be_bytes(reader.array::<8>()?);
            if reader.at != reader.value.len() {
                return Err(CodecError("trailing bytes after a lease"));
            }
            Ok(Value::Lease { fingerprint, token })
        }
        RECORD => {
            let status = u16::from_be_bytes(reader.array::<2>()?);
            let count = reader.u32()?;
            // Every header takes at least 8 bytes: a count larger than that is corrupt, and
            // capping it here keeps a corrupt count from reserving a huge vector.
            if count as usize > reader.remaining() / 8 {
                return Err(CodecError("header count exceeds the value"));
            }
            let mut headers = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let name = reader.chunk()?;
                let name = std::str::from_utf8(&name)
                    .map_err(|_| CodecError("a header name is not UTF-8"))?;
                let value = reader.chunk()?;
                headers.push((Box::from(name), value));
            }
            let body = reader.value.slice(reader.at..);
            Ok(Value::Record {
                fingerprint,
                record: Record::new(status, headers, body),
            })
        }
        _ => Err(CodecError("unknown value tag")),
    }
}

struct Reader {
    value: Bytes,
    at: usize,
}

impl Reader {
    fn remaining(&self) -> usize {
        self.value.len() - self.at
    }

    fn take(&mut self, len: usize) -> Result<Bytes, CodecError> {
        if len > self.remaining() {
            return Err(CodecError("truncated value"));
        }
        let chunk = self.value.slice(self.at..self.at + len);
        self.at += len;
        Ok(chunk)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let chunk = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&chunk);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        self.array::<4>().map(u32::from_be_bytes)
    }

    fn chunk(&mut self) -> Result<Bytes, CodecError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fingerprint(seed: u8) -> Fingerprint {
        Fingerprint::from_bytes([seed; 32])
    }

    #[test]
    fn a_lease_is_42_bytes_and_round_trips() {
        let lease = encode_lease(&fingerprint(3), u64::MAX - 1);
        assert_eq!(lease.len(), 42);
        assert_eq!(
            decode(Bytes::copy_from_slice(&lease)),
            Ok(Value::Lease {
                fingerprint: fingerprint(3),
                token: u64::MAX - 1
            })
        );
    }

    #[test]
    fn the_fingerprint_sits_where_the_scripts_look_for_it() {
        let record = Record::new(200, vec![], Bytes::from_static(b"ok"));
        let encoded = encode_record(&fingerprint(9), &record).unwrap();
        assert_eq!(&encoded[2..34], &[9; 32]);
        assert_eq!(&encode_lease(&fingerprint(9), 1)[2..34], &[9; 32]);
    }

    #[test]
    fn corrupt_values_are_refused_not_panicked_on() {
        let record = Record::new(
            201,
            vec![("content-type".into(), Bytes::from_static(b"text/plain"))],
            Bytes::from_static(b"body"),
        );
        let good = encode_record(&fingerprint(1), &record).unwrap();
        for cut in 0..good.len() - 4 {
            // Any cut that ends inside the headers is truncated; later cuts are shorter bodies.
            let _ = decode(Bytes::copy_from_slice(&good[..cut]));
        }
        let mut newer = good.clone();
        newer[0] = 2;
        assert!(
            decode(Bytes::from(newer))
                .unwrap_err()
                .0
                .contains("version")
        );
        let mut huge_count = good;
        huge_count[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode(Bytes::from(huge_count)).is_err());
    }

    proptest! {
        #[test]
        fn records_round_trip(
            seed in any::<u8>(),
            status in any::<u16>(),
            headers in proptest::collection::vec(("\\PC{0,12}", proptest::collection::vec(any::<u8>(), 0..16)), 0..5),
            body in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let record = Record::new(
                status,
                headers.into_iter().map(|(n, v)| (n.into_boxed_str(), Bytes::from(v))).collect(),
                Bytes::from(body),
            );
            let encoded = encode_record(&fingerprint(seed), &record).unwrap();
            prop_assert_eq!(
                decode(Bytes::from(encoded)),
                Ok(Value::Record { fingerprint: fingerprint(seed), record })
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(Bytes::from(bytes));
        }
    }
}
