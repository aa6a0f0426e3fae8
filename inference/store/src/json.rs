//! JSON text for name/value pairs whose order matters (feature rows, class probabilities).
//!
//! The columns are `TEXT` on both backends (not `JSONB`, which would reorder keys), so an object written as
//! `{"f_b": 1.5, "f_a": 2.0}` reads back in that order. JSON has no NaN or infinity: a non-finite value is
//! written as `null` and read back as NaN.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::StoreError;

/// Serializes pairs as one JSON object, keeping their order.
struct Pairs<I>(I);

impl<I, K, V> Serialize for Pairs<I>
where
    I: Iterator<Item = (K, V)> + Clone,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.clone())
    }
}

/// Writes `{name: value, ...}` in the given order; rejects an empty or repeated name.
pub fn encode_pairs<'a, V: Serialize + 'a>(
    what: &str,
    pairs: impl Iterator<Item = (&'a str, V)> + Clone,
) -> Result<String, StoreError> {
    check_names(what, pairs.clone().map(|(name, _)| name))?;
    encode_checked_pairs(what, pairs)
}

/// Rejects an empty or repeated name.
pub fn check_names<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err(StoreError::InvalidInput(format!("{what}: empty name")));
        }
        if !seen.insert(name) {
            return Err(StoreError::InvalidInput(format!("{what}: {name:?} appears twice")));
        }
    }
    Ok(())
}

/// [`encode_pairs`] for names that passed [`check_names`] (rows of one feature set share their names).
pub fn encode_checked_pairs<'a, V: Serialize + 'a>(
    what: &str,
    pairs: impl Iterator<Item = (&'a str, V)> + Clone,
) -> Result<String, StoreError> {
    serde_json::to_string(&Pairs(pairs)).map_err(|e| StoreError::InvalidInput(format!("{what}: {e}")))
}

/// Reads a JSON object back into its pairs, in document order.
struct OrderedPairs<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedPairs<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = OrderedPairs<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of name: value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(OrderedPairs(pairs))
            }
        }

        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

/// Parses `{name: number-or-null, ...}`; `null` becomes NaN.
pub fn decode_pairs(what: &'static str, text: &str) -> Result<Vec<(String, f64)>, StoreError> {
    let pairs: OrderedPairs<Option<f64>> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })?;
    Ok(pairs.0.into_iter().map(|(name, value)| (name, value.unwrap_or(f64::NAN))).collect())
}

/// An explanation (`predictions.explanation`) as stored JSON; refuses entries that could not be read back (no
/// feature name, or a non-finite median or contribution; a missing value is NaN, an infinite one is refused).
pub fn encode_explanation(explanation: Option<&[crate::Contribution]>) -> Result<Option<String>, StoreError> {
    if let Some(bad) = explanation
        .into_iter()
        .flatten()
        .find(|c| c.feature.is_empty() || c.value.is_infinite() || !c.median.is_finite() || !c.contribution.is_finite())
    {
        return Err(StoreError::InvalidInput(format!("explanation entry {bad:?} is not storable")));
    }
    explanation
        .map(|e| serde_json::to_string(e).map_err(|e| StoreError::InvalidInput(format!("explanation: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_maps_non_finite_to_nan() {
        let names = ["z", "a", "m", "inf"];
        let values = [1.5f32, -0.1, f32::NAN, f32::INFINITY];
        let text = encode_pairs("features", names.iter().copied().zip(values.iter().copied())).unwrap();
        assert_eq!(text, r#"{"z":1.5,"a":-0.1,"m":null,"inf":null}"#);
        let back = decode_pairs("features", &text).unwrap();
        let back_names: Vec<&str> = back.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(back_names, names);
        assert_eq!(back[1].1 as f32, -0.1f32);
        assert!(back[2].1.is_nan() && back[3].1.is_nan());
    }

    #[test]
    fn rejects_repeated_and_empty_names() {
        assert!(encode_pairs("p", [("a", 1.0), ("a", 2.0)].into_iter()).is_err());
        assert!(encode_pairs("p", [("", 1.0)].into_iter()).is_err());
        assert!(decode_pairs("p", "[1, 2]").is_err());
    }

    #[test]
    fn f32_and_f64_round_trip_bit_for_bit() {
        // A deterministic spread of bit patterns over the whole finite range of both widths.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x32 = f32::from_bits(state as u32);
            let x64 = f64::from_bits(state);
            let text = encode_pairs("t", [("a", x32 as f64), ("b", x64)].into_iter()).unwrap();
            // f32 values are written from f32 (shortest form), as the store does.
            let text32 = encode_pairs("t", [("a", x32)].into_iter()).unwrap();
            let back = decode_pairs("t", &text).unwrap();
            let back32 = decode_pairs("t", &text32).unwrap();
            if x32.is_finite() {
                assert_eq!((back32[0].1 as f32).to_bits(), x32.to_bits(), "{text32}");
                assert_eq!(back[0].1.to_bits(), (x32 as f64).to_bits(), "{text}");
            }
            if x64.is_finite() {
                assert_eq!(back[1].1.to_bits(), x64.to_bits(), "{text}");
            }
        }
    }
}
