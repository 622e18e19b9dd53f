//! The JSON header of a safetensors file, read strictly and without allocating: a cursor over its
//! bytes, JSON strings kept as their escaped text ([`JsonStr`]) and decoded on demand, and the
//! header's entries one by one ([`Entries`]).
//!
//! Accepted: exactly the grammar of the format. The header is one JSON object that starts at its
//! first byte; after it, only spaces (the padding writers add). Each key is a tensor name, except
//! `__metadata__`, an object of strings to strings. A tensor is an object with exactly the fields
//! `dtype` (a string), `shape` (an array of unsigned integers) and `data_offsets` (an array of two
//! unsigned integers), each once. Rejected, where the Python package is lenient: whitespace before
//! the object, unknown fields, a `null` metadata, duplicate names (checked in
//! [`SafeTensors::parse`](super::SafeTensors::parse)).

use super::dtype::Dtype;
use super::error::{Dims, SafetensorsError, Syntax};

/// A JSON string's text between its quotes, escapes not decoded; validated when parsed, so
/// [`chars`](Self::chars) never fails.
#[derive(Clone, Copy, Debug)]
pub struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// The decoded characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + Clone + 'a {
        let mut rest = self.raw.chars();
        core::iter::from_fn(move || {
            let c = rest.next()?;
            if c != '\\' {
                return Some(c);
            }
            Some(match rest.next()? {
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let high = hex4(&mut rest)?;
                    if (0xD800..0xDC00).contains(&high) {
                        // Validated: a low surrogate escape follows.
                        rest.next()?;
                        rest.next()?;
                        let low = hex4(&mut rest)?;
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                    } else {
                        char::from_u32(high)?
                    }
                }
                other => other, // `"`, `\` and `/` stand for themselves
            })
        })
    }

    /// Whether the decoded string is the concatenation of `parts`.
    pub fn is(&self, parts: &[&str]) -> bool {
        self.chars().eq(parts.iter().flat_map(|p| p.chars()))
    }

    /// Whether the decoded strings are equal.
    pub fn same(&self, other: &JsonStr<'_>) -> bool {
        self.raw == other.raw || self.chars().eq(other.chars())
    }

    /// The escaped text, as it is in the file.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The string whose escaped text is `raw`, which has no `\\` or `"`.
    #[cfg(test)]
    pub(crate) const fn from_raw(raw: &'a str) -> Self {
        Self { raw }
    }
}

fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        value = value * 16 + chars.next()?.to_digit(16)?;
    }
    Some(value)
}

/// One tensor of the header.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Its name.
    pub name: JsonStr<'a>,
    /// Its element type.
    pub dtype: Dtype,
    /// Its dimensions.
    pub shape: Dims,
    /// Its elements: the product of the dimensions (`1` for a scalar).
    pub elements: u64,
    /// Its first byte, from the start of the data.
    pub begin: u64,
    /// One past its last byte.
    pub end: u64,
}

/// A position in the header.
struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: Syntax) -> SafetensorsError {
        SafetensorsError::Header { offset: self.pos, what }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` or fails with `what`.
    fn expect(&mut self, byte: u8, what: Syntax) -> Result<(), SafetensorsError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// After a member: `true` for a `,` (another follows), `false` for `close`.
    fn separator(&mut self, close: u8) -> Result<bool, SafetensorsError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.err(if close == b'}' { Syntax::CommaOrBrace } else { Syntax::CommaOrBracket })),
        }
    }

    /// Opens an object or array: `true` if it is empty (and now closed).
    fn open(&mut self, open: u8, close: u8, what: Syntax) -> Result<bool, SafetensorsError> {
        self.expect(open, what)?;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    fn string(&mut self) -> Result<JsonStr<'a>, SafetensorsError> {
        self.expect(b'"', Syntax::String)?;
        let start = self.pos;
        loop {
            let Some(c) = self.peek() else { return Err(self.err(Syntax::UnterminatedString)) };
            match c {
                b'"' => break,
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            self.pos += 1;
                            let unit = self.hex4()?;
                            if (0xD800..0xDC00).contains(&unit) {
                                if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.err(Syntax::Escape));
                                }
                                self.pos += 2;
                                if !(0xDC00..0xE000).contains(&self.hex4()?) {
                                    return Err(self.err(Syntax::Escape));
                                }
                            } else if (0xDC00..0xE000).contains(&unit) {
                                return Err(self.err(Syntax::Escape));
                            }
                        }
                        _ => return Err(self.err(Syntax::Escape)),
                    }
                }
                0..0x20 => return Err(self.err(Syntax::ControlCharacter)),
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or_default();
        self.pos += 1;
        // The header was checked to be UTF-8 and the string ends before an ASCII quote, on a
        // character boundary.
        core::str::from_utf8(raw).map(|raw| JsonStr { raw }).map_err(|_| self.err(Syntax::String))
    }

    fn hex4(&mut self) -> Result<u32, SafetensorsError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| char::from(c).to_digit(16));
            let Some(digit) = digit else { return Err(self.err(Syntax::Escape)) };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// An unsigned integer: digits only, no sign, fraction, exponent or leading zero.
    fn uint(&mut self) -> Result<u64, SafetensorsError> {
        self.skip_whitespace();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.pos > start && value == 0 {
                return Err(self.err(Syntax::LeadingZero));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| self.err(Syntax::IntegerTooLarge))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(Syntax::UnsignedInteger));
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(self.err(Syntax::UnsignedInteger));
        }
        Ok(value)
    }

    /// The `__metadata__` object: strings to strings.
    fn metadata(&mut self) -> Result<(), SafetensorsError> {
        if self.open(b'{', b'}', Syntax::MetadataObject)? {
            return Ok(());
        }
        loop {
            self.string()?;
            self.expect(b':', Syntax::Colon)?;
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.err(Syntax::MetadataValue));
            }
            self.string()?;
            if !self.separator(b'}')? {
                return Ok(());
            }
        }
    }

    /// A tensor's object, after its name.
    fn tensor(&mut self, name: JsonStr<'a>) -> Result<Entry<'a>, SafetensorsError> {
        let start = self.pos;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        if self.open(b'{', b'}', Syntax::TensorObject)? {
            return Err(SafetensorsError::Header { offset: start, what: Syntax::MissingField });
        }
        loop {
            let field_at = self.pos;
            let field = self.string()?;
            self.expect(b':', Syntax::Colon)?;
            let duplicate = if field.is(&["dtype"]) {
                let text = self.string()?;
                dtype.replace(Dtype::parse(text).ok_or_else(|| self.err(Syntax::UnknownDtype))?).is_some()
            } else if field.is(&["shape"]) {
                shape.replace(self.shape()?).is_some()
            } else if field.is(&["data_offsets"]) {
                offsets.replace(self.offsets()?).is_some()
            } else {
                return Err(SafetensorsError::Header { offset: field_at, what: Syntax::UnknownField });
            };
            if duplicate {
                return Err(SafetensorsError::Header { offset: field_at, what: Syntax::DuplicateField });
            }
            if !self.separator(b'}')? {
                break;
            }
        }
        let (Some(dtype), Some((shape, elements)), Some((begin, end))) = (dtype, shape, offsets) else {
            return Err(SafetensorsError::Header { offset: start, what: Syntax::MissingField });
        };
        Ok(Entry { name, dtype, shape, elements, begin, end })
    }

    fn shape(&mut self) -> Result<(Dims, u64), SafetensorsError> {
        let mut dims = Dims::EMPTY;
        let mut elements: u64 = 1;
        if self.open(b'[', b']', Syntax::ShapeArray)? {
            return Ok((dims, elements));
        }
        loop {
            let dim = self.uint()?;
            elements = elements.checked_mul(dim).ok_or_else(|| self.err(Syntax::IntegerTooLarge))?;
            dims.push(dim);
            if !self.separator(b']')? {
                return Ok((dims, elements));
            }
        }
    }

    fn offsets(&mut self) -> Result<(u64, u64), SafetensorsError> {
        self.expect(b'[', Syntax::OffsetsArray)?;
        let begin = self.uint()?;
        self.expect(b',', Syntax::OffsetsArray)?;
        let end = self.uint()?;
        self.expect(b']', Syntax::OffsetsArray)?;
        Ok((begin, end))
    }
}

/// The header's tensors in file order, the metadata skipped (but checked). Stops after the first
/// error, which it yields.
pub struct Entries<'a> {
    cursor: Cursor<'a>,
    state: State,
}

#[derive(PartialEq)]
enum State {
    Start,
    Member,
    Done,
}

impl<'a> Entries<'a> {
    /// The entries of `header`, the JSON text (UTF-8, checked by the caller).
    pub fn new(header: &'a str) -> Self {
        Self { cursor: Cursor { text: header.as_bytes(), pos: 0 }, state: State::Start }
    }

    fn step(&mut self) -> Result<Option<Entry<'a>>, SafetensorsError> {
        let c = &mut self.cursor;
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    // The object starts at the first byte: no leading whitespace.
                    if c.peek() != Some(b'{') {
                        return Err(c.err(Syntax::HeaderObject));
                    }
                    if c.open(b'{', b'}', Syntax::HeaderObject)? {
                        self.state = State::Done;
                        c.end()?;
                        return Ok(None);
                    }
                    self.state = State::Member;
                }
                State::Member => {
                    let name = c.string()?;
                    c.expect(b':', Syntax::Colon)?;
                    let entry = if name.is(&["__metadata__"]) {
                        c.metadata()?;
                        None
                    } else {
                        Some(c.tensor(name)?)
                    };
                    if !c.separator(b'}')? {
                        self.state = State::Done;
                        c.end()?;
                    }
                    if entry.is_some() {
                        return Ok(entry);
                    }
                }
            }
        }
    }
}

impl Cursor<'_> {
    /// After the object: only the spaces of the padding.
    fn end(&mut self) -> Result<(), SafetensorsError> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        if self.pos == self.text.len() { Ok(()) } else { Err(self.err(Syntax::TrailingBytes)) }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, SafetensorsError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(entry) => entry.map(Ok),
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    fn entries(header: &str) -> Result<usize, SafetensorsError> {
        Entries::new(header).try_fold(0, |n, e| e.map(|_| n + 1))
    }

    fn syntax(header: &str) -> Syntax {
        match entries(header) {
            Err(SafetensorsError::Header { what, .. }) => what,
            other => panic!("{header}: {other:?}"),
        }
    }

    #[test]
    fn reads_tensors_and_skips_metadata() {
        let h = r#"{"__metadata__":{"format":"pt"}, "a.weight" : {"dtype":"F32","shape":[2, 3],"data_offsets":[0,24]},"b":{"shape":[],"data_offsets":[24,28],"dtype":"F32"}}   "#;
        let all: [_; 2] = core::array::from_fn({
            let mut it = Entries::new(h);
            move |_| it.next().unwrap().unwrap()
        });
        assert!(all[0].name.is(&["a.", "weight"]));
        assert_eq!(
            (all[0].shape.as_slice(), all[0].elements, all[0].begin, all[0].end),
            (&[2, 3][..], 6, 0, 24)
        );
        assert_eq!((all[1].shape.as_slice(), all[1].elements), (&[][..], 1));
        assert_eq!(entries("{}"), Ok(0));
    }

    #[test]
    fn decodes_escapes() {
        let h = r#"{"a\u00e9\"\\\/\ud83d\ude00\n":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#;
        let e = Entries::new(h).next().unwrap().unwrap();
        assert!(e.name.is(&["aé\"\\/😀\n"]));
        assert!(!e.name.is(&["aé"]));
    }

    #[test]
    fn rejects_what_the_format_does_not_allow() {
        let t = r#""dtype":"F32","shape":[1],"data_offsets":[0,4]"#;
        let cases: [(String, Syntax); 20] = [
            (format!(" {{\"a\":{{{t}}}}}"), Syntax::HeaderObject),
            (format!("{{\"a\":{{{t}}}}}\n"), Syntax::TrailingBytes),
            (format!("{{\"a\":{{{t},\"x\":1}}}}"), Syntax::UnknownField),
            (format!("{{\"a\":{{{t},\"dtype\":\"F32\"}}}}"), Syntax::DuplicateField),
            (r#"{"a":{"dtype":"F32","shape":[1]}}"#.into(), Syntax::MissingField),
            (format!("{{\"__metadata__\":null,\"a\":{{{t}}}}}"), Syntax::MetadataObject),
            (format!("{{\"__metadata__\":{{\"k\":1}},\"a\":{{{t}}}}}"), Syntax::MetadataValue),
            (r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}"#.into(), Syntax::UnknownDtype),
            (r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#.into(), Syntax::UnsignedInteger),
            (r#"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#.into(), Syntax::UnsignedInteger),
            (r#"{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#.into(), Syntax::LeadingZero),
            (r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#.into(), Syntax::OffsetsArray),
            (
                r#"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#.into(),
                Syntax::IntegerTooLarge,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#.into(),
                Syntax::IntegerTooLarge,
            ),
            (format!("{{\"a\\q\":{{{t}}}}}"), Syntax::Escape),
            (format!("{{\"a\\udc00\":{{{t}}}}}"), Syntax::Escape),
            (format!("{{\"a\u{1}\":{{{t}}}}}"), Syntax::ControlCharacter),
            (format!("{{\"a\":{{{t}}} \"b\":1}}"), Syntax::CommaOrBrace),
            ("{\"a".into(), Syntax::UnterminatedString),
            ("{".into(), Syntax::String),
        ];
        for (header, expected) in cases {
            assert_eq!(syntax(&header), expected, "{header}");
        }
    }
}
