//! Whether ABI data is laid out exactly as an encoder lays it out, checked
//! without decoding: every offset points where the next tail must start,
//! every length stays within the data, padding is zero, nothing trails.
//!
//! A lenient decoder follows whatever offsets it is given, so a few hundred
//! bytes whose array entries all point at the same element decode into
//! copies of it — nested arrays multiply that at each level. Data that passes
//! this check holds every value once: decoding it allocates no more than its
//! own size. The check itself reads each word at most once.

use alloy::dyn_abi::DynSolType;

/// Nesting deeper than this is not decoded (as in alloy's decoder).
const MAX_DEPTH: usize = 16;

const WORD: usize = 32;

/// Whether `data` is the canonical encoding of a sequence of `types` (a
/// function's or an error's parameters). Types with a zero-sized part (`T[0]`,
/// `()`) are refused: no contract can revert with them.
pub(crate) fn is_canonical(types: &[DynSolType], data: &[u8]) -> bool {
    sequence(data, 0, Elements::Listed(types), 0) == Some(data.len())
}

/// The elements of a tuple, or `n` elements of one type (an array).
#[derive(Clone, Copy)]
enum Elements<'t> {
    Listed(&'t [DynSolType]),
    Repeated(&'t DynSolType, usize),
}

impl<'t> Elements<'t> {
    fn len(self) -> usize {
        match self {
            Self::Listed(types) => types.len(),
            Self::Repeated(_, n) => n,
        }
    }

    fn get(self, i: usize) -> Option<&'t DynSolType> {
        match self {
            Self::Listed(types) => types.get(i),
            Self::Repeated(ty, n) => (i < n).then_some(ty),
        }
    }

    /// Words of the head: one per dynamic element, a static element's size otherwise.
    fn head_words(self) -> Option<usize> {
        match self {
            Self::Listed(types) => types
                .iter()
                .try_fold(0usize, |sum, ty| sum.checked_add(head_words(ty)?)),
            Self::Repeated(ty, n) => n.checked_mul(head_words(ty)?),
        }
    }
}

/// A tuple's (or struct's) members.
fn members(ty: &DynSolType) -> Option<&[DynSolType]> {
    ty.as_tuple()
        .or_else(|| ty.as_custom_struct().map(|(_, _, tuple)| tuple))
}

/// Words `ty` takes in a head; `None` for a zero-sized type or an overflow.
fn head_words(ty: &DynSolType) -> Option<usize> {
    if ty.is_zst() {
        return None;
    }
    if ty.is_dynamic() {
        return Some(1);
    }
    match ty {
        DynSolType::FixedArray(inner, n) => n.checked_mul(head_words(inner)?),
        other => match members(other) {
            Some(tuple) => Elements::Listed(tuple).head_words(),
            None => Some(1),
        },
    }
}

/// The word at `at` as a length or offset (`None` past the data or over `usize`).
fn word_at(data: &[u8], at: usize) -> Option<usize> {
    let word = data.get(at..at.checked_add(WORD)?)?;
    let (high, low) = word.split_at(WORD - 8);
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    usize::try_from(u64::from_be_bytes(low.try_into().ok()?)).ok()
}

/// Checks a sequence whose head starts at `base`; returns where its tail ends.
fn sequence(data: &[u8], base: usize, elements: Elements<'_>, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let head_end = base.checked_add(elements.head_words()?.checked_mul(WORD)?)?;
    // Each element takes at least one word of head, so this also bounds the loop.
    if head_end > data.len() {
        return None;
    }
    let mut at = base;
    let mut tail = head_end;
    for i in 0..elements.len() {
        let ty = elements.get(i)?;
        if ty.is_dynamic() {
            if base.checked_add(word_at(data, at)?)? != tail {
                return None;
            }
            tail = dynamic(data, tail, ty, depth + 1)?;
            at += WORD;
        } else {
            at += head_words(ty)? * WORD;
        }
    }
    Some(tail)
}

/// Checks the dynamic value of type `ty` starting at `at`; returns where it ends.
fn dynamic(data: &[u8], at: usize, ty: &DynSolType, depth: usize) -> Option<usize> {
    match ty {
        DynSolType::Bytes | DynSolType::String => {
            let len = word_at(data, at)?;
            let start = at.checked_add(WORD)?;
            let end = start.checked_add(len.checked_next_multiple_of(WORD)?)?;
            let padding = data.get(start.checked_add(len)?..end)?;
            padding.iter().all(|&b| b == 0).then_some(end)
        }
        DynSolType::Array(inner) => {
            let n = word_at(data, at)?;
            sequence(data, at.checked_add(WORD)?, Elements::Repeated(inner, n), depth)
        }
        DynSolType::FixedArray(inner, n) => sequence(data, at, Elements::Repeated(inner, *n), depth),
        other => sequence(data, at, Elements::Listed(members(other)?), depth),
    }
}

#[cfg(test)]
mod tests {
    use alloy::dyn_abi::DynSolValue;

    use super::*;

    /// What an encoder writes for these parameters.
    fn encode_seq(values: &[DynSolValue]) -> Vec<u8> {
        DynSolValue::Tuple(values.to_vec()).abi_encode_sequence().unwrap()
    }

    fn ty(s: &str) -> DynSolType {
        DynSolType::parse(s).unwrap()
    }

    fn word(v: usize) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(v as u64).to_be_bytes());
        w
    }

    #[test]
    fn encoder_output_is_canonical() {
        let values = [
            DynSolValue::String("closed".into()),
            DynSolValue::Array(vec![
                DynSolValue::Bytes(vec![1; 40]),
                DynSolValue::Bytes(vec![]),
                DynSolValue::Bytes(vec![2; 32]),
            ]),
            DynSolValue::Uint(alloy::primitives::U256::from(7), 256),
            DynSolValue::Tuple(vec![
                DynSolValue::Bool(true),
                DynSolValue::Array(vec![DynSolValue::String("a".into())]),
            ]),
            DynSolValue::FixedArray(vec![DynSolValue::String("x".into()), DynSolValue::String("y".into())]),
        ];
        let types = [
            ty("string"),
            ty("bytes[]"),
            ty("uint256"),
            ty("(bool,string[])"),
            ty("string[2]"),
        ];
        let data = encode_seq(&values);
        assert!(is_canonical(&types, &data));
        // Nothing may trail, and nothing may be missing.
        let mut longer = data.clone();
        longer.extend_from_slice(&[0; 32]);
        assert!(!is_canonical(&types, &longer));
        assert!(!is_canonical(&types, &data[..data.len() - 32]));
        let static_only = encode_seq(&[DynSolValue::Address(Default::default())]);
        assert!(is_canonical(&[ty("address")], &static_only));
    }

    #[test]
    fn shared_offsets_are_refused() {
        // string[] of 3 entries, all pointing at one string (a lenient decoder makes 3 copies).
        let mut data = Vec::new();
        data.extend_from_slice(&word(0x20));
        data.extend_from_slice(&word(3));
        for _ in 0..3 {
            data.extend_from_slice(&word(3 * 32));
        }
        data.extend_from_slice(&word(5));
        data.extend_from_slice(&{
            let mut w = [0u8; 32];
            w[..5].copy_from_slice(b"hello");
            w
        });
        assert!(!is_canonical(&[ty("string[]")], &data));
        // The same three strings laid out one after another pass.
        let fine = encode_seq(&[DynSolValue::Array(vec![DynSolValue::String("hello".into()); 3])]);
        assert!(is_canonical(&[ty("string[]")], &fine));
    }

    #[test]
    fn lengths_offsets_and_padding_are_checked() {
        let good = encode_seq(&[DynSolValue::Bytes(vec![1, 2, 3])]);
        assert!(is_canonical(&[ty("bytes")], &good));
        // A length past the end.
        let mut long = good.clone();
        long[32..64].copy_from_slice(&word(1 << 40));
        assert!(!is_canonical(&[ty("bytes")], &long));
        // A length of 2^64 - 1 (overflow on rounding up).
        long[56..64].copy_from_slice(&[0xff; 8]);
        assert!(!is_canonical(&[ty("bytes")], &long));
        // Dirty padding.
        let mut dirty = good.clone();
        dirty[64 + 3] = 9;
        assert!(!is_canonical(&[ty("bytes")], &dirty));
        // An offset that leaves a gap.
        let mut gap = good.clone();
        gap[..32].copy_from_slice(&word(0x40));
        gap.extend_from_slice(&[0; 32]);
        assert!(!is_canonical(&[ty("bytes")], &gap));
        // An offset word with high bits set.
        let mut high = good;
        high[0] = 1;
        assert!(!is_canonical(&[ty("bytes")], &high));
        // An array claiming more elements than the data can hold.
        let mut many = Vec::new();
        many.extend_from_slice(&word(0x20));
        many.extend_from_slice(&word(usize::MAX >> 8));
        assert!(!is_canonical(&[ty("uint256[]")], &many));
    }

    #[test]
    fn deep_and_zero_sized_types_are_refused() {
        let deep = ty(&format!("uint256{}", "[]".repeat(20)));
        let mut data = Vec::new();
        for _ in 0..20 {
            data.extend_from_slice(&word(0x20));
            data.extend_from_slice(&word(1));
        }
        assert!(!is_canonical(&[deep], &data));
        let zero_sized = DynSolType::Array(Box::new(DynSolType::FixedArray(Box::new(ty("uint256")), 0)));
        assert!(!is_canonical(&[zero_sized], &[word(0x20), word(5)].concat()));
        assert!(!is_canonical(&[DynSolType::Tuple(vec![])], &[]));
        // A fixed array the size of the address space is refused without a loop over it.
        assert!(!is_canonical(
            &[DynSolType::FixedArray(Box::new(ty("string")), usize::MAX)],
            &[0; 64]
        ));
    }
}
