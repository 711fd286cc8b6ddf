//! Comparing values as Choice rules do: path operands, numbers, strings by UTF-16 code units,
//! `StringMatches` patterns and timestamps.

use super::*;

/// The value `path` names, borrowed from the scope when the path is a reference path.
pub(super) fn resolve<'v>(path: &Path, scope: &Scope<'v>) -> Option<Cow<'v, Value>> {
    if path.is_reference() {
        path.lookup(scope).map(Cow::Borrowed)
    } else {
        path.eval(scope).ok().map(Cow::Owned)
    }
}

/// The value a `...Path` operand names; naming nothing fails the execution.
pub(super) fn resolve_operand<'v>(
    path: &Path,
    scope: &Scope<'v>,
) -> Result<Cow<'v, Value>, StatesError> {
    resolve(path, scope).ok_or_else(|| invalid_path(path))
}

/// The `States.Runtime` error of a condition path that names nothing. The engine prefixes the
/// cause with the state name and event id, as it does for every state failure.
pub(super) fn invalid_path(path: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

/// Compares two JSON numbers by value: integers exactly, anything involving a fraction as
/// `f64`.
pub(super) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    // One is a u64 above i64::MAX and the other a negative i64.
    if a.is_u64() && b.is_i64() {
        return Some(Ordering::Greater);
    }
    if a.is_i64() && b.is_u64() {
        return Some(Ordering::Less);
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Orders strings as Java's `String.compareTo` does: by UTF-16 code units.
pub(super) fn compare_utf16(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order equals code point order, which differs from UTF-16 order only between
    // a supplementary character and one in U+E000..=U+FFFF; ASCII never needs the slow path.
    if a.is_ascii() || b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A `StringMatches` pattern, split at its unescaped `*` wildcards.
///
/// Spec: "The wildcard character is escaped by using the standard \\ (Ex: "\\*"). No characters
/// other than "*" have any special meaning during matching."
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    /// The literal text between wildcards; one more than the number of wildcards.
    pub(super) parts: Vec<String>,
}

impl Pattern {
    pub(super) fn compile(src: &str) -> Pattern {
        let mut parts = vec![String::new()];
        let mut chars = src.chars();
        while let Some(c) = chars.next() {
            match c {
                // A backslash takes the next character literally; a trailing one is literal.
                '\\' => {
                    let literal = chars.next().unwrap_or('\\');
                    if let Some(last) = parts.last_mut() {
                        last.push(literal);
                    }
                }
                '*' => parts.push(String::new()),
                c => {
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                }
            }
        }
        Pattern { parts }
    }

    pub(super) fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) {
            return false;
        }
        if !s.ends_with(last.as_str()) {
            return false;
        }
        // Leftmost matching of each middle part is optimal when `*` is the only wildcard.
        let mut hay = &s[first.len()..s.len() - last.len()];
        for part in middle {
            match hay.find(part.as_str()) {
                Some(at) => hay = &hay[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// An instant parsed from a timestamp string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub(super) secs: i64,
    pub(super) nanos: u32,
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
pub(super) const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

impl Timestamp {
    /// Parses a timestamp as Java's `DateTimeFormatter.ISO_OFFSET_DATE_TIME` does, which is
    /// what Step Functions uses ("The TimestampPath parameter does not reference a valid
    /// ISO-8601 extended offset date-time format string"): `yyyy-MM-ddTHH:mm[:ss[.f]]` then
    /// `Z` or `+HH[:mm[:ss]]`, where `T` and `Z` may be lowercase, seconds are optional, the
    /// fraction has up to nine digits, and the date and time must exist (strict resolution:
    /// no February 30, no hour 24, no leap second).
    pub(super) fn parse(s: &str) -> Option<Timestamp> {
        let mut c = Cursor {
            b: s.as_bytes(),
            i: 0,
        };
        let year = c.digits(4)?;
        c.byte(b'-')?;
        let month = c.digits(2)?;
        c.byte(b'-')?;
        let day = c.digits(2)?;
        c.byte_ignore_case(b'T')?;
        let hour = c.digits(2)?;
        c.byte(b':')?;
        let minute = c.digits(2)?;
        let (mut second, mut nanos) = (0, 0);
        if c.byte(b':').is_some() {
            second = c.digits(2)?;
            if c.byte(b'.').is_some() {
                nanos = c.fraction();
            }
        }
        let offset = c.offset()?;
        if c.i != c.b.len() || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
        let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp {
            secs: local - offset,
            nanos,
        })
    }
}

/// A byte cursor for [`Timestamp::parse`].
pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl Cursor<'_> {
    /// Exactly `n` ASCII digits.
    pub(super) fn digits(&mut self, n: usize) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + n)?;
        let mut value = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(d - b'0');
        }
        self.i += n;
        Some(value)
    }

    pub(super) fn byte(&mut self, want: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&want)).then(|| self.i += 1)
    }

    pub(super) fn byte_ignore_case(&mut self, want: u8) -> Option<()> {
        let got = self.b.get(self.i)?;
        got.eq_ignore_ascii_case(&want).then(|| self.i += 1)
    }

    /// Zero to nine digits after the decimal point, as nanoseconds (Java accepts a bare `.`).
    pub(super) fn fraction(&mut self) -> u32 {
        let mut nanos = 0;
        let mut scale = 100_000_000;
        while scale > 0 {
            match self.b.get(self.i) {
                Some(d) if d.is_ascii_digit() => {
                    nanos += u32::from(d - b'0') * scale;
                    scale /= 10;
                    self.i += 1;
                }
                _ => break,
            }
        }
        nanos
    }

    /// `Z`, or `+HH`, `+HH:mm`, `+HH:mm:ss` (or `-`), at most 18 hours; in seconds east of
    /// UTC.
    pub(super) fn offset(&mut self) -> Option<i64> {
        if self.byte_ignore_case(b'Z').is_some() {
            return Some(0);
        }
        let sign = match self.b.get(self.i)? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.i += 1;
        let hours = self.digits(2)?;
        let mut minutes = 0;
        let mut seconds = 0;
        if let Some(m) = self.colon_pair() {
            minutes = m;
            if let Some(s) = self.colon_pair() {
                seconds = s;
            }
        }
        let total = hours * 3600 + minutes * 60 + seconds;
        if hours > 23 || total > 18 * 3600 {
            return None;
        }
        Some(sign * i64::from(total))
    }

    /// `:` and two digits up to 59, consumed only if all are there.
    pub(super) fn colon_pair(&mut self) -> Option<u32> {
        let start = self.i;
        let pair = self
            .byte(b':')
            .and_then(|()| self.digits(2))
            .filter(|v| *v <= 59);
        if pair.is_none() {
            self.i = start;
        }
        pair
    }
}
