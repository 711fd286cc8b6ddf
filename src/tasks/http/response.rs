//! The response read back: size-limited body, JSON or text by media type, and socket
//! errors worded as AWS words them.

use super::*;

/// A response as an HTTP Task result.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) result: Value,
}

/// The error chain of a transport failure, without reqwest's URL (its query may hold secrets).
pub(super) fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

pub(super) fn socket_error(shown: &str, e: &reqwest::Error) -> StatesError {
    if e.is_builder() {
        return runtime(format!(
            "the request to {shown} cannot be built: {}",
            error_chain(e)
        ));
    }
    StatesError::new(
        HTTP_SOCKET,
        format!("the request to {shown} failed: {}", error_chain(e)),
    )
}

/// The media type of a `Content-Type` value, lowercase and without parameters.
pub(super) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub(super) fn is_json_media(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

pub(super) async fn read_response(
    mut response: reqwest::Response,
    shown: &str,
) -> Result<Answer, StatesError> {
    let status = response.status();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let entry = headers
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(text));
        }
    }
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| media_type(&String::from_utf8_lossy(v.as_bytes())))
        .unwrap_or_default();
    // Spec ("Unsupported HTTP Task responses"): these content types fail with States.Runtime.
    if media == "application/octet-stream"
        || ["image/", "video/", "audio/"]
            .iter()
            .any(|prefix| media.starts_with(prefix))
    {
        return Err(runtime(format!(
            "the response of {shown} has content type {media}, which an HTTP Task cannot read"
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| socket_error(shown, &e))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_RESPONSE_BYTES + 1 {
            return Err(StatesError::new(
                error::DATA_LIMIT_EXCEEDED,
                format!("the response body of {shown} is larger than 256 KiB"),
            ));
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        runtime(format!(
            "the response body of {shown} is not UTF-8 text, which an HTTP Task cannot read"
        ))
    })?;
    let body = if is_json_media(&media) {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Ok(Answer {
        status: status.as_u16(),
        result: json!({
            "Headers": headers,
            "ResponseBody": body,
            "StatusCode": status.as_u16(),
            "StatusText": status.canonical_reason().unwrap_or_default(),
        }),
    })
}
