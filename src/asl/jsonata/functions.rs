//! The functions Step Functions adds to JSONata (`$partition`, `$range`, `$hash`, `$random`,
//! `$parse`, and `$millis`/`$uuid` bound to the step's moment) and the JSONata 2.0 built-ins
//! `jsonata-rs` lacks, registered on each program.

use super::*;

// --- Functions Step Functions adds to JSONata, and JSONata built-ins jsonata-rs lacks. ---

/// Result type of a native JSONata function.
pub(super) type NativeResult<'a> = jsonata_rs::Result<&'a JValue<'a>>;

pub(super) fn register_functions<'a>(program: &JsonAta<'a>, arena: &'a Bump) {
    program.register_function("partition", 2, fn_partition);
    program.register_function("range", 3, fn_range);
    program.register_function("hash", 2, fn_hash);
    program.register_function("parse", 1, fn_parse);
    program.register_function("type", 1, fn_type);
    program.register_function("average", 1, fn_average);
    program.register_function("spread", 1, fn_spread);
    program.register_function("shuffle", 1, fn_shuffle);
    program.register_function("sift", 2, fn_sift);
    program.register_function("formatBase", 2, fn_format_base);
    program.register_function("encodeUrl", 1, fn_encode_url);
    program.register_function("encodeUrlComponent", 1, fn_encode_url_component);
    program.register_function("decodeUrl", 1, fn_decode_url);
    program.register_function("decodeUrlComponent", 1, fn_decode_url_component);
    program.assign_var(
        SEEDED_RANDOM_BINDING,
        JValue::nativefn(arena, "random", 1, fn_random),
    );
    program.assign_var(
        MILLIS_BINDING,
        JValue::nativefn(arena, "millis", 0, fn_millis),
    );
    program.assign_var(UUID_BINDING, JValue::nativefn(arena, "uuid", 0, fn_uuid));
    program.assign_var(
        PAD_BINDING,
        JValue::nativefn(arena, "pad", 3, fn_guarded_pad),
    );
    for (name, arity) in HIGHER_ORDER_BUILTINS {
        program.assign_var(
            &format!("{GUARDED_BUILTIN_PREFIX}{name}"),
            JValue::nativefn(arena, name, *arity, fn_guarded_builtin),
        );
    }
}

/// Calls the original higher-order built-in named like this guard if enough stack is left, and
/// fails with U1001 (JSONata's stack overflow error) otherwise.
pub(super) fn fn_guarded_builtin<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    if stacker::remaining_stack().is_some_and(|left| left < HIGHER_ORDER_RED_ZONE_BYTES) {
        return Err(JsonataError::U1001StackOverflow);
    }
    let original = context
        .frame
        .lookup(&format!("{ORIGINAL_BUILTIN_PREFIX}{}", context.name))
        .ok_or(JsonataError::T1006InvokedNonFunction(context.char_index))?;
    context.evaluate_function(original, args)
}

/// `$pad`, refusing a width past [`MAX_PAD_WIDTH`] with the memory limit before `jsonata-rs`
/// allocates it (a width near 2^63 aborted the process).
pub(super) fn fn_guarded_pad<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    if let JValue::Number(width) = arg(args, 1) {
        if !width.is_finite() || width.abs() > MAX_PAD_WIDTH {
            return Err(JsonataError::D3137Error(MEMORY_LIMIT_MESSAGE.to_string()));
        }
    }
    let original = context
        .frame
        .lookup(&format!("{ORIGINAL_BUILTIN_PREFIX}pad"))
        .ok_or(JsonataError::T1006InvokedNonFunction(context.char_index))?;
    context.evaluate_function(original, args)
}

pub(super) fn signature_error(context: &FunctionContext<'_, '_>, index: usize) -> JsonataError {
    JsonataError::T0410ArgumentNotValid(context.char_index, index, context.name.to_string())
}

/// Fails with T0410 naming the first argument past `max`.
pub(super) fn check_max_args(
    context: &FunctionContext<'_, '_>,
    args: &[&JValue],
    max: usize,
) -> jsonata_rs::Result<()> {
    if args.len() > max {
        return Err(signature_error(context, max + 1));
    }
    Ok(())
}

pub(super) fn arg<'a>(args: &[&'a JValue<'a>], index: usize) -> &'a JValue<'a> {
    args.get(index).copied().unwrap_or_else(JValue::undefined)
}

/// A number argument rounded towards zero, as AWS does (`-1.7` is `-1`).
pub(super) fn integer_arg(
    context: &FunctionContext<'_, '_>,
    value: &JValue,
    index: usize,
) -> jsonata_rs::Result<i64> {
    match value {
        JValue::Number(n) => Ok(n.trunc() as i64),
        _ => Err(signature_error(context, index)),
    }
}

/// `$partition(array, size)`: `array` in chunks of `size` elements, the last holding the rest.
pub(super) fn fn_partition<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let array = arg(args, 0);
    if array.is_undefined() {
        return Ok(JValue::undefined());
    }
    if !array.is_array() {
        return Err(JsonataError::T0412ArgumentMustBeArrayOfType(
            context.char_index,
            1,
            context.name.to_string(),
            "undefined".to_string(),
        ));
    }
    let members: Vec<&'a JValue<'a>> = array.members().collect();
    if members.is_empty() {
        return Ok(JValue::undefined());
    }
    let size = arg(args, 1);
    let size = if size.is_undefined() {
        members.len()
    } else {
        let size = integer_arg(&context, size, 2)?;
        if size < 0 {
            return Err(JsonataError::D3137Error(
                "Second argument must be zero or greater".to_string(),
            ));
        }
        if size == 0 {
            return Ok(JValue::undefined());
        }
        usize::try_from(size).unwrap_or(usize::MAX)
    };
    let chunks = JValue::array_with_capacity(
        context.arena,
        members.len().div_ceil(size),
        ArrayFlags::empty(),
    );
    for chunk in members.chunks(size) {
        let part = JValue::array_with_capacity(context.arena, chunk.len(), ArrayFlags::empty());
        for member in chunk {
            part.push(member);
        }
        chunks.push(part);
    }
    Ok(chunks)
}

/// `$range(start, end, step)`: `start`, `start + step`, ... up to `end` inclusive. A range of one
/// element is that element; a missing or zero step, or one pointing away from `end`, is undefined.
pub(super) fn fn_range<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 3)?;
    let start = integer_arg(&context, arg(args, 0), 1)?;
    let end = integer_arg(&context, arg(args, 1), 2)?;
    let step = arg(args, 2);
    if step.is_undefined() {
        return Ok(JValue::undefined());
    }
    let step = integer_arg(&context, step, 3)?;
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::undefined());
    }
    if start == end {
        return Ok(JValue::number(context.arena, start as f64));
    }
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = (end - start) / step + 1;
    if count > MAX_RESULT_VALUES as i128 {
        return Err(JsonataError::D3137Error(MEMORY_LIMIT_MESSAGE.to_string()));
    }
    let capacity = usize::try_from(count).unwrap_or(0);
    let array = JValue::array_with_capacity(context.arena, capacity, ArrayFlags::empty());
    for i in 0..count {
        array.push(JValue::number(context.arena, (start + i * step) as f64));
    }
    Ok(array)
}

/// `$hash(value, algorithm)`: the lowercase hex digest of `value` (UTF-8).
pub(super) fn fn_hash<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let JValue::String(value) = arg(args, 0) else {
        return Err(signature_error(&context, 1));
    };
    let algorithm = match arg(args, 1) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(algorithm) => algorithm.as_str(),
        _ => return Err(signature_error(&context, 2)),
    };
    let bytes = value.as_bytes();
    let digest = match algorithm {
        "MD5" => hex(&Md5::digest(bytes)),
        "SHA-1" => hex(&Sha1::digest(bytes)),
        "SHA-256" => hex(&Sha256::digest(bytes)),
        "SHA-384" => hex(&Sha384::digest(bytes)),
        "SHA-512" => hex(&Sha512::digest(bytes)),
        other => {
            return Err(JsonataError::D3137Error(format!(
                "Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )))
        }
    };
    Ok(JValue::string(context.arena, &digest))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `$random([seed])`: a number in [0, 1); with a seed, the first `nextDouble()` of a
/// `java.util.Random` so seeded, which is what AWS returns (`$random(42)` is
/// 0.7275636800328681).
pub(super) fn fn_random<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let n = match arg(args, 0) {
        JValue::Undefined => with_rng(|rng| rng.random::<f64>()),
        seed => java_random_double(integer_arg(&context, seed, 1)?),
    };
    Ok(JValue::number(context.arena, n))
}

/// `$millis()`: the time of the step, ms since the epoch (the same in every expression of it,
/// as JSONata has it for one evaluation).
pub(super) fn fn_millis<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 0)?;
    let now = DRAWS.with(|d| d.borrow().as_ref().map_or(0, |d| d.now_ms));
    Ok(JValue::number(context.arena, now as f64))
}

/// `$uuid()`: a version 4 UUID from the step's seeded randomness.
pub(super) fn fn_uuid<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 0)?;
    let bytes: [u8; 16] = with_rng(|rng| rng.random());
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(JValue::string(context.arena, &uuid.to_string()))
}

/// `new java.util.Random(seed).nextDouble()`.
pub(super) fn java_random_double(seed: i64) -> f64 {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;
    let mut state = (seed as u64 ^ MULTIPLIER) & MASK;
    let mut next = |bits: u32| {
        state = state.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        state >> (48 - bits)
    };
    let high = next(26);
    let low = next(27);
    ((high << 27) + low) as f64 / (1u64 << 53) as f64
}

/// `$parse(json)`: the JSON value a string holds (Step Functions' replacement for `$eval`).
pub(super) fn fn_parse<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| JsonataError::D3137Error("Invalid JSON".to_string()))?;
    Ok(to_jsonata(context.arena, &value))
}

/// `$type(value)`: the JSONata type name.
pub(super) fn fn_type<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let name = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Null => "null",
        JValue::Bool(_) => "boolean",
        JValue::Number(_) => "number",
        JValue::String(_) => "string",
        JValue::Array(..) | JValue::Range(..) => "array",
        JValue::Object(_) => "object",
        JValue::Regex(_)
        | JValue::Lambda { .. }
        | JValue::NativeFn { .. }
        | JValue::Transformer { .. } => "function",
    };
    Ok(JValue::string(context.arena, name))
}

/// `$average(array)`: the mean of an array of numbers.
pub(super) fn fn_average<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    if value.is_undefined() {
        return Ok(JValue::undefined());
    }
    let array = JValue::wrap_in_array_if_needed(context.arena, value, ArrayFlags::empty());
    let mut sum = 0.0;
    let mut count = 0usize;
    for member in array.members() {
        let JValue::Number(n) = member else {
            return Err(JsonataError::T0412ArgumentMustBeArrayOfType(
                context.char_index,
                1,
                context.name.to_string(),
                "number".to_string(),
            ));
        };
        sum += n;
        count += 1;
    }
    if count == 0 {
        return Ok(JValue::undefined());
    }
    Ok(JValue::number(context.arena, sum / count as f64))
}

/// `$spread(object)`: an array of single-key objects, one per key.
pub(super) fn fn_spread<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    let result = JValue::array(context.arena, ArrayFlags::SEQUENCE);
    match value {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Object(map) => {
            for (key, member) in map.iter() {
                let single = JValue::object_with_capacity(context.arena, 1);
                single.insert(key, member);
                result.push(single);
            }
        }
        JValue::Array(..) | JValue::Range(..) => {
            for member in value.members() {
                let spread = fn_spread(context.clone(), &[member])?;
                if spread.is_array() {
                    for item in spread.members() {
                        result.push(item);
                    }
                } else if !spread.is_undefined() {
                    result.push(spread);
                }
            }
        }
        other => return Ok(other),
    }
    Ok(result)
}

/// `$shuffle(array)`: the members in random order.
pub(super) fn fn_shuffle<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    if value.is_undefined() {
        return Ok(JValue::undefined());
    }
    let array = JValue::wrap_in_array_if_needed(context.arena, value, ArrayFlags::empty());
    let mut members: Vec<&'a JValue<'a>> = array.members().collect();
    with_rng(|rng| {
        for i in (1..members.len()).rev() {
            members.swap(i, rng.random_range(0..=i));
        }
    });
    let result = JValue::array_with_capacity(context.arena, members.len(), ArrayFlags::empty());
    for member in members {
        result.push(member);
    }
    Ok(result)
}

/// `$sift(object, function)`: the entries for which `function(value, key, object)` is truthy.
pub(super) fn fn_sift<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let object = arg(args, 0);
    let function = arg(args, 1);
    if object.is_undefined() {
        return Ok(JValue::undefined());
    }
    let JValue::Object(map) = object else {
        return Err(signature_error(&context, 1));
    };
    if !function.is_function() {
        return Err(signature_error(&context, 2));
    }
    if stacker::remaining_stack().is_some_and(|left| left < HIGHER_ORDER_RED_ZONE_BYTES) {
        return Err(JsonataError::U1001StackOverflow);
    }
    let arity = function.arity();
    let result = JValue::object(context.arena);
    for (key, value) in map.iter() {
        let key_value = JValue::string(context.arena, key);
        let call: Vec<&'a JValue<'a>> = [*value, key_value, object]
            .into_iter()
            .take(arity.clamp(1, 3))
            .collect();
        let keep =
            context.trampoline_evaluate_value(context.evaluate_function(function, &call)?)?;
        if keep.is_truthy() {
            result.insert(key, value);
        }
    }
    if matches!(result, JValue::Object(map) if map.is_empty()) {
        return Ok(JValue::undefined());
    }
    Ok(result)
}

/// `$formatBase(number, [radix])`: the number, rounded half to even, written in base `radix`
/// (2 to 36, default 10).
pub(super) fn fn_format_base<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let number = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Number(n) => n.round_ties_even(),
        _ => return Err(signature_error(&context, 1)),
    };
    let radix = match arg(args, 1) {
        JValue::Undefined => 10.0,
        JValue::Number(n) => n.round_ties_even(),
        _ => return Err(signature_error(&context, 2)),
    };
    if !(2.0..=36.0).contains(&radix) {
        return Err(JsonataError::D3137Error(format!(
            "The radix of the formatBase function must be between 2 and 36.  It was given {radix}"
        )));
    }
    let radix = radix as u32;
    let mut magnitude = number.abs() as u128;
    let mut digits = Vec::new();
    loop {
        let digit = (magnitude % u128::from(radix)) as u32;
        digits.push(char::from_digit(digit, radix).unwrap_or('0'));
        magnitude /= u128::from(radix);
        if magnitude == 0 {
            break;
        }
    }
    if number < 0.0 {
        digits.push('-');
    }
    let text: String = digits.into_iter().rev().collect();
    Ok(JValue::string(context.arena, &text))
}

/// Characters `encodeURIComponent` leaves as they are, besides ASCII letters and digits.
pub(super) const URL_COMPONENT_SAFE: &str = "-_.!~*'()";
/// Characters `encodeURI` additionally leaves as they are.
pub(super) const URL_RESERVED: &str = ";,/?:@&=+$#";

pub(super) fn fn_encode_url<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    encode_with(context, args, true)
}

pub(super) fn fn_encode_url_component<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    encode_with(context, args, false)
}

pub(super) fn encode_with<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
    keep_reserved: bool,
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric()
            || URL_COMPONENT_SAFE.contains(c)
            || (keep_reserved && URL_RESERVED.contains(c))
        {
            out.push(c);
        } else {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Ok(JValue::string(context.arena, &out))
}

pub(super) fn fn_decode_url<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    decode_with(context, args, true)
}

pub(super) fn fn_decode_url_component<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    decode_with(context, args, false)
}

pub(super) fn decode_with<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
    keep_reserved: bool,
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let malformed = || {
        JsonataError::D3137Error(format!(
            "Malformed URL passed to ${}(): \"{text}\"",
            context.name
        ))
    };
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let byte = text
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(malformed)?;
        // Spec (decodeURI): escapes of reserved characters stay escaped.
        if keep_reserved && byte.is_ascii() && URL_RESERVED.contains(char::from(byte)) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    let decoded = String::from_utf8(out).map_err(|_| malformed())?;
    Ok(JValue::string(context.arena, &decoded))
}
