//! A bounds-checked little-endian cursor over a byte slice.

use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::error::{ErrorCode, Result, fail};

/// Reads fields one after another; every read names its field so a short input says what was
/// missing.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    short: ErrorCode,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` whose short reads fail with `short`.
    pub(super) fn new(buf: &'a [u8], short: ErrorCode) -> Self {
        Reader { buf, pos: 0, short }
    }

    /// How many bytes have been read.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(super) fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let left = self.remaining();
        if n > left {
            return fail(self.short, format!("{field} needs {n} bytes, {left} left"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(super) fn array<const N: usize>(&mut self, field: &str) -> Result<&'a [u8; N]> {
        self.object::<[u8; N]>(field)
    }

    /// The next bytes as a fixed-layout structure.
    pub(super) fn object<T>(&mut self, field: &str) -> Result<&'a T>
    where
        T: FromBytes + KnownLayout + Immutable + Unaligned,
    {
        let bytes = self.bytes(size_of::<T>(), field)?;
        match T::ref_from_bytes(bytes) {
            Ok(t) => Ok(t),
            // Unreachable for unaligned types of the exact size, but never panic on input.
            Err(_) => fail(self.short, format!("{field} has the wrong size")),
        }
    }

    /// A little-endian u16.
    pub(super) fn u16(&mut self, field: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(*self.array::<2>(field)?))
    }

    /// A little-endian u32.
    pub(super) fn u32(&mut self, field: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(*self.array::<4>(field)?))
    }

    /// Fails unless every byte was read.
    pub(super) fn finish(&self, what: &str) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => fail(
                ErrorCode::MalformedSignatureData,
                format!("{n} unaccounted bytes at the end of the {what}"),
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [1, 0, 2, 0, 0, 0, 9];
        let mut r = Reader::new(&data, ErrorCode::QuoteTooShort);
        assert_eq!(r.u16("a").unwrap(), 1);
        assert_eq!(r.u32("b").unwrap(), 2);
        assert_eq!(r.finish("x").unwrap_err().code, ErrorCode::MalformedSignatureData);
        let e = r.u16("c").unwrap_err();
        assert_eq!(e.code, ErrorCode::QuoteTooShort);
        assert_eq!(e.message, "c needs 2 bytes, 1 left");
        assert_eq!(r.bytes(1, "d").unwrap(), &[9]);
        r.finish("x").unwrap();
        assert_eq!(r.bytes(usize::MAX, "e").unwrap_err().code, ErrorCode::QuoteTooShort);
    }
}
