//! Evaluation of intrinsic calls: each function's argument checks, results and the causes
//! AWS words for its failures.

use super::*;

/// Why a call failed, before it is worded as a cause.
pub(super) enum Failure {
    /// An argument path matched nothing; holds the path as AWS reports it.
    Missing(String),
    /// Any other failure; holds the detail after `had the following error: `.
    Invalid(String),
}

impl Failure {
    pub(super) fn missing(path: &Path) -> Failure {
        // Step Functions reports a `$$` argument rewritten against the context object.
        let src = path.as_str();
        let shown = match path.root() {
            Root::Context => src.strip_prefix('$').unwrap_or(src),
            Root::Input | Root::Variable => src,
        };
        Failure::Missing(shown.to_string())
    }
}

pub(super) type Eval<'a> = Result<Cow<'a, Value>, Failure>;
pub(super) type Two<'a> = (Cow<'a, Value>, Cow<'a, Value>);
pub(super) type Three<'a> = (Cow<'a, Value>, Cow<'a, Value>, Cow<'a, Value>);

pub(super) fn eval_arg<'a>(arg: &'a Arg, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Eval<'a> {
    match arg {
        Arg::Literal(v) => Ok(Cow::Borrowed(v)),
        Arg::Path(p) if p.is_reference() => p
            .lookup(scope)
            .map(Cow::Borrowed)
            .ok_or_else(|| Failure::missing(p)),
        Arg::Path(p) => p
            .eval(scope)
            .map(Cow::Owned)
            .map_err(|_| Failure::missing(p)),
        Arg::Call(c) => c.eval(scope, rng).map(Cow::Owned),
    }
}

impl Call {
    pub(super) fn uses_context(&self) -> bool {
        !self.all_paths(&|p| !p.uses_context())
    }

    /// True when `f` holds for every argument path, nested calls' included.
    pub(super) fn all_paths(&self, f: &dyn Fn(&Path) -> bool) -> bool {
        self.args.iter().all(|a| match a {
            Arg::Literal(_) => true,
            Arg::Path(p) => f(p),
            Arg::Call(c) => c.all_paths(f),
        })
    }

    pub(super) fn invalid(&self) -> Failure {
        Failure::Invalid(format!("Invalid arguments in {}", self.func.name()))
    }

    pub(super) fn one<'a>(&'a self, scope: &Scope<'a>, rng: &mut dyn RngCore) -> Eval<'a> {
        match self.args.as_slice() {
            [a] => eval_arg(a, scope, rng),
            _ => Err(self.invalid()),
        }
    }

    pub(super) fn two<'a>(
        &'a self,
        scope: &Scope<'a>,
        rng: &mut dyn RngCore,
    ) -> Result<Two<'a>, Failure> {
        match self.args.as_slice() {
            [a, b] => Ok((eval_arg(a, scope, rng)?, eval_arg(b, scope, rng)?)),
            _ => Err(self.invalid()),
        }
    }

    pub(super) fn three<'a>(
        &'a self,
        scope: &Scope<'a>,
        rng: &mut dyn RngCore,
    ) -> Result<Three<'a>, Failure> {
        match self.args.as_slice() {
            [a, b, c] => Ok((
                eval_arg(a, scope, rng)?,
                eval_arg(b, scope, rng)?,
                eval_arg(c, scope, rng)?,
            )),
            _ => Err(self.invalid()),
        }
    }

    pub(super) fn eval(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        match self.func {
            Func::Format => self.format(scope, rng),
            Func::StringToJson => {
                let s = self.one(scope, rng)?;
                let s = s.as_str().ok_or_else(|| self.invalid())?;
                // Observed on AWS: an empty or blank string parses to null.
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                let mut v: Value = serde_json::from_str(s).map_err(|_| self.invalid())?;
                normalize_zero(&mut v);
                Ok(v)
            }
            Func::JsonToString => {
                let v = self.one(scope, rng)?;
                serde_json::to_string(&*v)
                    .map(Value::String)
                    .map_err(|_| self.invalid())
            }
            Func::Array => self
                .args
                .iter()
                .map(|a| eval_arg(a, scope, rng).map(Cow::into_owned))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Func::ArrayPartition => {
                let (array, size) = self.two(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                // Observed on AWS: a fractional chunk size is truncated (2.6 -> 2, 0.6 fails).
                let size = truncate(&size)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| self.invalid())?;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                Ok(Value::Array(
                    array
                        .chunks(size)
                        .map(|chunk| Value::Array(chunk.to_vec()))
                        .collect(),
                ))
            }
            Func::ArrayContains => {
                let (array, target) = self.two(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                Ok(Value::Bool(
                    array.iter().any(|item| contains_match(item, &target)),
                ))
            }
            Func::ArrayRange => self.array_range(scope, rng),
            Func::ArrayGetItem => {
                let (array, index) = self.two(scope, rng)?;
                // Observed on AWS: a fractional index is truncated.
                let index = truncate(&index).ok_or_else(|| self.invalid())?;
                let item = array
                    .as_array()
                    .and_then(|items| items.get(usize::try_from(index).ok()?))
                    .ok_or_else(|| self.invalid())?;
                Ok(item.clone())
            }
            Func::ArrayLength => {
                let array = self.one(scope, rng)?;
                let len = array.as_array().ok_or_else(|| self.invalid())?.len();
                Ok(Value::from(len))
            }
            Func::ArrayUnique => {
                let array = self.one(scope, rng)?;
                let array = array.as_array().ok_or_else(|| self.invalid())?;
                let mut seen = HashSet::with_capacity(array.len());
                Ok(Value::Array(
                    array
                        .iter()
                        .filter(|item| seen.insert(canonical_key(item)))
                        .cloned()
                        .collect(),
                ))
            }
            Func::Base64Encode => {
                let s = self.one(scope, rng)?;
                let s = self.limited_str(&s)?;
                Ok(Value::String(STANDARD.encode(s.as_bytes())))
            }
            Func::Base64Decode => {
                let s = self.one(scope, rng)?;
                let s = self.limited_str(&s)?;
                let bytes = lenient_base64_decode(s).ok_or_else(|| self.invalid())?;
                Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            }
            Func::Hash => self.hash(scope, rng),
            Func::JsonMerge => {
                let (a, b, deep) = self.three(scope, rng)?;
                // Spec: the third argument must be false; observed on AWS: anything but
                // true merges shallowly.
                if *deep == Value::Bool(true) {
                    return Err(self.invalid());
                }
                let (Value::Object(_), Value::Object(b)) = (&*a, &*b) else {
                    return Err(self.invalid());
                };
                let mut merged: Map<String, Value> = match a.into_owned() {
                    Value::Object(a) => a,
                    _ => Map::new(),
                };
                for (k, v) in b {
                    merged.insert(k.clone(), v.clone());
                }
                Ok(Value::Object(merged))
            }
            Func::MathRandom => self.math_random(scope, rng),
            Func::MathAdd => {
                let (a, b) = self.two(scope, rng)?;
                let a = int32_operand(&a).ok_or_else(|| self.invalid())?;
                let b = int32_operand(&b).ok_or_else(|| self.invalid())?;
                let sum = a + b;
                if i32::try_from(sum).is_err() {
                    return Err(self.invalid());
                }
                Ok(Value::from(sum))
            }
            Func::StringSplit => {
                let (s, delimiters) = self.two(scope, rng)?;
                let (Some(s), Some(delimiters)) = (s.as_str(), delimiters.as_str()) else {
                    return Err(self.invalid());
                };
                // Observed on AWS: every character of the delimiter splits, and empty tokens
                // are dropped (java.util.StringTokenizer).
                Ok(Value::Array(
                    s.split(|c| delimiters.contains(c))
                        .filter(|token| !token.is_empty())
                        .map(|token| Value::String(token.to_string()))
                        .collect(),
                ))
            }
            // Observed on AWS: arguments to States.UUID are ignored.
            Func::Uuid => {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                Ok(Value::String(
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string(),
                ))
            }
        }
    }

    /// A string argument of at most 10000 characters (UTF-16 units, as Java counts them).
    pub(super) fn limited_str<'v>(&self, v: &'v Value) -> Result<&'v str, Failure> {
        match v.as_str() {
            Some(s)
                if s.len() <= MAX_STRING_CHARS || s.encode_utf16().count() <= MAX_STRING_CHARS =>
            {
                Ok(s)
            }
            _ => Err(self.invalid()),
        }
    }

    pub(super) fn format(
        &self,
        scope: &Scope<'_>,
        rng: &mut dyn RngCore,
    ) -> Result<Value, Failure> {
        let Some((first, values)) = self.args.split_first() else {
            return Err(self.invalid());
        };
        let template_error = |msg: &str| {
            Failure::Invalid(format!("Invalid template in {}: {msg}", self.func.name()))
        };
        let template: Cow<'_, [Piece]> = match &self.template {
            Some(Ok(pieces)) => Cow::Borrowed(pieces),
            Some(Err(msg)) => return Err(template_error(msg)),
            None => {
                let v = eval_arg(first, scope, rng)?;
                let s = v.as_str().ok_or_else(|| self.invalid())?;
                Cow::Owned(parse_template(s).map_err(|msg| template_error(&msg))?)
            }
        };
        let holes = template.iter().filter(|p| **p == Piece::Hole).count();
        if holes != values.len() {
            return Err(Failure::Invalid(format!(
                "Invalid arguments in {}: number of arguments do not match the occurrences of {{}}",
                self.func.name()
            )));
        }
        let mut out = String::new();
        let mut values = values.iter();
        for piece in template.iter() {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole => {
                    if let Some(arg) = values.next() {
                        let v = eval_arg(arg, scope, rng)?;
                        crate::asl::java::java_text(&v, &mut out);
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    pub(super) fn array_range(
        &self,
        scope: &Scope<'_>,
        rng: &mut dyn RngCore,
    ) -> Result<Value, Failure> {
        let (start, end, step) = self.three(scope, rng)?;
        // Observed on AWS: fractional arguments are truncated, and a negative step counts down.
        let (Some(start), Some(end), Some(step)) =
            (truncate(&start), truncate(&end), truncate(&step))
        else {
            return Err(self.invalid());
        };
        let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
        let count = match step {
            0 => return Err(self.invalid()),
            s if s > 0 && end >= start => (end - start) / s + 1,
            s if s < 0 && end <= start => (start - end) / -s + 1,
            _ => 0,
        };
        if count > MAX_RANGE_ITEMS {
            return Err(self.invalid());
        }
        Ok(Value::Array(
            (0..count)
                .map(|k| Value::from(i64::try_from(start + k * step).unwrap_or_default()))
                .collect(),
        ))
    }

    pub(super) fn hash(&self, scope: &Scope<'_>, rng: &mut dyn RngCore) -> Result<Value, Failure> {
        let (data, algorithm) = self.two(scope, rng)?;
        // Observed on AWS: data that is not a string is hashed as its JSON text.
        let text: Cow<'_, str> = match &*data {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        };
        if text.len() > MAX_STRING_CHARS && text.encode_utf16().count() > MAX_STRING_CHARS {
            return Err(self.invalid());
        }
        let bytes = text.as_bytes();
        let digest: Vec<u8> = match algorithm.as_str() {
            Some("MD5") => Md5::digest(bytes).to_vec(),
            Some("SHA-1") => Sha1::digest(bytes).to_vec(),
            Some("SHA-256") => Sha256::digest(bytes).to_vec(),
            Some("SHA-384") => Sha384::digest(bytes).to_vec(),
            Some("SHA-512") => Sha512::digest(bytes).to_vec(),
            _ => return Err(self.invalid()),
        };
        let mut hex = String::with_capacity(digest.len() * 2);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(Value::String(hex))
    }

    pub(super) fn math_random(
        &self,
        scope: &Scope<'_>,
        rng: &mut dyn RngCore,
    ) -> Result<Value, Failure> {
        let (start, end, seed) = match self.args.as_slice() {
            [a, b] => (eval_arg(a, scope, rng)?, eval_arg(b, scope, rng)?, None),
            [a, b, c] => (
                eval_arg(a, scope, rng)?,
                eval_arg(b, scope, rng)?,
                Some(eval_arg(c, scope, rng)?),
            ),
            _ => return Err(self.invalid()),
        };
        // Observed on AWS: bounds are truncated (1.6 allows 1) and the interval is
        // [start, end); an empty interval fails.
        let int32 = |v: &Value| truncate(v).filter(|n| i32::try_from(*n).is_ok());
        let (Some(start), Some(end)) = (int32(&start), int32(&end)) else {
            return Err(self.invalid());
        };
        let bound = i32::try_from(end - start)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| self.invalid())?;
        let offset = match seed {
            // A seeded call is reproducible: Java's java.util.Random, as Step Functions uses
            // (seed 42 over [-5, 5) gives -5 on AWS).
            Some(seed) => {
                let seed = truncate(&seed).ok_or_else(|| self.invalid())?;
                i64::from(JavaRandom::new(seed).next_int(bound))
            }
            None => rng.random_range(0..i64::from(bound)),
        };
        Ok(Value::from(start + offset))
    }
}

/// An integer argument that truncates fractions; `None` for a non-number or a non-finite one.
pub(super) fn truncate(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i),
            // `as` saturates; u64 values above i64::MAX are out of every range we accept.
            None => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64),
        },
        _ => None,
    }
}

/// A MathAdd operand: a number rounded half up as Java's `Math.round` does, within i32.
pub(super) fn int32_operand(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    let i = match n.as_i64() {
        Some(i) => i,
        None => {
            let f = n.as_f64().filter(|f| f.is_finite())?;
            let floor = f.floor();
            (if f - floor >= 0.5 { floor + 1.0 } else { floor }) as i64
        }
    };
    i32::try_from(i).ok().map(i64::from)
}

/// Equality for ArrayContains as observed on AWS: a string matches a scalar whose JSON text it
/// is (`"true"` matches `true`), and objects match only with their keys in the same order.
pub(super) fn contains_match(item: &Value, target: &Value) -> bool {
    match (item, target) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::String(s), other) | (other, Value::String(s)) => match other {
            Value::Null => s == "null",
            Value::Bool(b) => s == if *b { "true" } else { "false" },
            Value::Number(n) => *s == n.to_string(),
            _ => false,
        },
        _ => ordered_eq(item, target),
    }
}

/// Structural equality where object key order matters.
pub(super) fn ordered_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| ordered_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && ordered_eq(vx, vy))
        }
        _ => a == b,
    }
}

/// A text that is equal for equal JSON values (object keys sorted), for ArrayUnique.
pub(super) fn canonical_key(v: &Value) -> String {
    pub(super) fn write_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_canonical(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", Value::String(k.clone()));
                    out.push(':');
                    write_canonical(item, out);
                }
                out.push('}');
            }
            scalar => {
                let _ = write!(out, "{scalar}");
            }
        }
    }
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

/// Decodes Base64 leniently, as observed on AWS: characters outside the alphabet (spaces,
/// padding, `!`) are skipped and missing padding is accepted.
pub(super) fn lenient_base64_decode(s: &str) -> Option<Vec<u8>> {
    pub(super) const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut symbols: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A single leftover symbol carries no whole byte.
    if symbols.len() % 4 == 1 {
        symbols.pop();
    }
    LENIENT.decode(&symbols).ok()
}

/// Turns negative zero into `0`, as Java's JSON parser reads `-0`.
pub(super) fn normalize_zero(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            *v = Value::from(0);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_zero),
        Value::Object(map) => map.values_mut().for_each(normalize_zero),
        _ => {}
    }
}

/// Java's `java.util.Random` (a 48-bit linear congruential generator), for seeded MathRandom.
pub(super) struct JavaRandom(u64);

impl JavaRandom {
    pub(super) const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    pub(super) const MASK: u64 = (1 << 48) - 1;

    pub(super) fn new(seed: i64) -> Self {
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    pub(super) fn next(&mut self, bits: u32) -> i32 {
        self.0 = self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        (self.0 >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for `bound > 0`.
    pub(super) fn next_int(&mut self, bound: i32) -> i32 {
        let m = bound - 1;
        let mut r = self.next(31);
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}
