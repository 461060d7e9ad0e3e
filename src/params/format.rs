//! The safetensors encoding shared by parameter files and checkpoints: tensors to bytes (as
//! `F64` or `F32`) and bytes to tensors (from `F64`, `F32`, `F16` or `BF16`, each widened to
//! f64 exactly).
//!
//! A file is an 8-byte little-endian header length, a JSON header naming each tensor's element
//! type, shape and byte range (plus a `__metadata__` map of strings), then the raw
//! little-endian data. Every failure to read is an [`Error::Format`], never a panic.

use crate::error::Error;
use crate::tensor::Tensor;
use indexmap::IndexMap;
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::HashMap;

/// A name safetensors reserves for the header's metadata.
pub(super) const RESERVED: &str = "__metadata__";

/// The element type a file is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveDtype {
    /// 64-bit floats: every bit of every value (the default).
    #[default]
    F64,
    /// 32-bit floats, each value rounded to the nearest: half the size, for sharing weights
    /// with tools that train in float32. Values beyond f32's range become ±∞.
    F32,
}

impl SaveDtype {
    fn name(self) -> &'static str {
        match self {
            SaveDtype::F64 => "F64",
            SaveDtype::F32 => "F32",
        }
    }

    fn size(self) -> usize {
        match self {
            SaveDtype::F64 => 8,
            SaveDtype::F32 => 4,
        }
    }
}

/// The bytes of a safetensors file holding `tensors` (sorted by name, as safetensors requires)
/// and `metadata` (in the order given), every tensor as `dtype`.
///
/// The header is written here, in safetensors' own layout (the header padded with spaces to 8
/// bytes), because `safetensors::serialize` takes the metadata as a `HashMap` and writes its
/// keys in a different order on every call: the same store must always give the same bytes.
pub(super) fn encode(
    tensors: &[(&str, &Tensor)],
    metadata: &[(&str, &str)],
    dtype: SaveDtype,
) -> Vec<u8> {
    let mut tensors = tensors.to_vec();
    tensors.sort_unstable_by_key(|&(name, _)| name);
    let entries: Vec<String> = metadata
        .iter()
        .map(|(key, value)| format!("{}:{}", json_string(key), json_string(value)))
        .collect();
    let mut header = format!("{{\"{RESERVED}\":{{{}}}", entries.join(","));
    let mut offset = 0;
    for (name, value) in &tensors {
        let end = offset + dtype.size() * value.len();
        let shape: Vec<String> = value.shape().iter().map(usize::to_string).collect();
        header.push_str(&format!(
            ",{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            dtype.name(),
            shape.join(",")
        ));
        offset = end;
    }
    header.push('}');
    let padded = header.len().next_multiple_of(8);
    header.extend(std::iter::repeat_n(' ', padded - header.len()));

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend((header.len() as u64).to_le_bytes());
    bytes.extend(header.as_bytes());
    for (_, value) in &tensors {
        match dtype {
            SaveDtype::F64 => bytes.extend(value.data().iter().flat_map(|x| x.to_le_bytes())),
            // Rounded to nearest, ties to even: what `as` does and what PyTorch's `.float()` does.
            SaveDtype::F32 => {
                bytes.extend(value.data().iter().flat_map(|&x| (x as f32).to_le_bytes()))
            }
        }
    }
    bytes
}

/// A decoded file: its tensors in the file's byte order, and its metadata.
pub(crate) struct Decoded {
    pub tensors: IndexMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

/// Reads every tensor of a safetensors file, widening each to f64 exactly. `source` names the
/// bytes in errors (a path, or `bytes`); `check_name` refuses names the caller cannot hold.
pub(super) fn decode(
    bytes: &[u8],
    source: &str,
    check_name: impl Fn(&str) -> Result<(), String>,
) -> Result<Decoded, Error> {
    let format_error = |reason: String| Error::Format {
        source: source.to_string(),
        reason,
    };
    // One parse of the header, which also checks that the offsets tile the data exactly.
    let (header_len, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format_error(e.to_string()))?;
    let data = &bytes[8 + header_len..];
    let metadata = header
        .metadata()
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let names = header.offset_keys();
    let mut tensors = IndexMap::with_capacity(names.len());
    for name in names {
        check_name(&name).map_err(&format_error)?;
        let info = header
            .info(&name)
            .expect("offset_keys lists the header's tensors");
        let (start, end) = info.data_offsets;
        let raw = data
            .get(start..end)
            .ok_or_else(|| format_error(format!("`{name}`'s bytes lie outside the file")))?;
        let values = widen(raw, info.dtype).ok_or_else(|| {
            format_error(format!(
                "`{name}` holds {:?}; tapegrad reads F64, F32, F16 and BF16",
                info.dtype
            ))
        })?;
        let value =
            Tensor::from_vec(values, &info.shape).map_err(|e| format_error(e.to_string()))?;
        tensors.insert(name, value);
    }
    Ok(Decoded { tensors, metadata })
}

/// The little-endian floats of `dtype` in `raw` as f64, each exactly (every F32, F16 and BF16
/// value is an f64 value); `None` for a type that is not a float type tapegrad reads.
fn widen(raw: &[u8], dtype: Dtype) -> Option<Vec<f64>> {
    let halves = || {
        raw.chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    Some(match dtype {
        Dtype::F64 => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => raw
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))))
            .collect(),
        Dtype::F16 => halves().map(f16_to_f64).collect(),
        // bfloat16 is the top half of an f32.
        Dtype::BF16 => halves()
            .map(|h| f64::from(f32::from_bits(u32::from(h) << 16)))
            .collect(),
        _ => return None,
    })
}

/// An IEEE binary16 value as f64: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
pub(super) fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    // Each product is a small integer times a power of two: exact in f64.
    let magnitude = match exponent {
        0 => fraction * 2f64.powi(-24), // subnormal (and ±0)
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (fraction + 1024.0) * 2f64.powi(exponent - 25),
    };
    sign * magnitude
}

/// `text` as a JSON string literal. Names hold no control character but `order` holds `\n`.
pub(super) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0); // the largest finite
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24)); // the smallest subnormal
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14)); // the smallest normal
        assert_eq!(f16_to_f64(0x3555), 1365.0 / 4096.0); // 0.333251953125, f16 nearest to 1/3
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }
}
