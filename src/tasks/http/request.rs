//! The request a Task's `Arguments`/`Parameters` describe: method, URL and query, headers,
//! body and its transforms, merged with the connection's parameters.

use super::*;

/// How arrays of a URL-encoded body are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArrayFormat {
    /// `array[0]=a&array[1]=b` (the default).
    Indices,
    /// `array=a&array=b`.
    Repeat,
    /// `array=a,b`.
    Commas,
    /// `array[]=a&array[]=b`.
    Brackets,
}

/// The parameters of one HTTP Task, checked.
#[derive(Debug)]
pub(super) struct TaskParameters {
    pub(super) endpoint: Url,
    pub(super) method: Method,
    pub(super) connection_arn: String,
    /// Header names and values, in order; a name may repeat.
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    /// Query parameters: raw key, percent-encoded value.
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Value>,
    pub(super) url_encoded: bool,
    pub(super) array_format: ArrayFormat,
}

/// A request ready to send.
#[derive(Debug)]
pub(super) struct HttpRequest {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<String>,
    pub(super) user_agent: String,
}

impl HttpRequest {
    /// The URL without its query (which may hold connection secrets), for causes.
    pub(super) fn shown_url(&self) -> String {
        shown_url(&self.url)
    }
}

pub(super) fn runtime(cause: impl Into<String>) -> StatesError {
    StatesError::runtime(cause)
}

impl TaskParameters {
    pub(super) fn parse(params: &Value) -> Result<TaskParameters, StatesError> {
        let obj = params
            .as_object()
            .ok_or_else(|| runtime("the HTTP Task parameters must be a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(runtime(format!(
                "the HTTP Task parameters have an unknown field {unknown:?}; the fields are {}",
                FIELDS.join(", ")
            )));
        }
        let endpoint = match obj.get("ApiEndpoint") {
            None | Some(Value::Null) => {
                return Err(runtime("the HTTP Task parameters need ApiEndpoint"));
            }
            Some(Value::String(s)) => Url::parse(s)
                .ok()
                .filter(is_http_url)
                .ok_or_else(|| runtime(format!("ApiEndpoint {s:?} is not an http(s) URL")))?,
            Some(other) => {
                return Err(runtime(format!(
                    "ApiEndpoint must be a string, not {}",
                    type_name(other)
                )));
            }
        };
        let method = match obj.get("Method") {
            None | Some(Value::Null) => {
                return Err(runtime("the HTTP Task parameters need Method"));
            }
            Some(Value::String(s)) if METHODS.contains(&s.as_str()) => {
                Method::from_bytes(s.as_bytes()).map_err(|_| runtime("bad Method"))?
            }
            Some(other) => {
                return Err(runtime(format!(
                    "Method must be one of {}, not {other}",
                    METHODS.join(", ")
                )));
            }
        };
        let connection_arn = connection_arn(obj)?;
        let headers = match obj.get("Headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => definition_headers(h)?,
            Some(other) => {
                return Err(runtime(format!(
                    "Headers must be a JSON object, not {}",
                    type_name(other)
                )));
            }
        };
        let query = match obj.get("QueryParameters") {
            None | Some(Value::Null) => Vec::new(),
            Some(q) => query_pairs(q)?,
        };
        let (url_encoded, array_format) = match obj.get("Transform") {
            None | Some(Value::Null) => (false, ArrayFormat::Indices),
            Some(t) => transform(t)?,
        };
        let body = match obj.get("RequestBody") {
            None | Some(Value::Null) => None,
            Some(b) => Some(b.clone()),
        };
        Ok(TaskParameters {
            endpoint,
            method,
            connection_arn,
            headers,
            query,
            body,
            url_encoded,
            array_format,
        })
    }

    /// Merges the connection's parameters and authorization (but an OAuth token) in.
    pub(super) fn build(
        &self,
        connection: &Connection,
        idempotency_key: &str,
    ) -> Result<HttpRequest, StatesError> {
        let none = HttpParameters::default();
        let extra = connection.invocation().unwrap_or(&none);

        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        // Spec: "If the same header keys are present in the definition and connection, Step
        // Functions uses the corresponding values specified in the EventBridge connection".
        for p in &extra.header_parameters {
            headers.insert(header_name(&p.key)?, header_value(&p.value)?);
        }

        let mut query = self.query.clone();
        for p in &extra.query_string_parameters {
            query.retain(|(k, _)| k != &p.key);
            query.push((p.key.clone(), percent_encode(&p.value)));
        }
        let mut url = self.endpoint.clone();
        append_query(&mut url, &query);

        let body = merge_body(self.body.clone(), &extra.body_parameters)?;
        let body = match body {
            None => None,
            Some(Value::String(text)) => Some(text),
            Some(Value::Object(fields)) if self.url_encoded => {
                Some(form_encode(&fields, self.array_format))
            }
            Some(other) if self.url_encoded => {
                return Err(runtime(format!(
                    "a URL_ENCODED RequestBody must be a JSON object or a string, not {}",
                    type_name(&other)
                )));
            }
            Some(other) => Some(other.to_string()),
        };
        if body.is_some() && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
            let content_type = if self.url_encoded {
                FORM_CONTENT_TYPE
            } else {
                JSON_CONTENT_TYPE
            };
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
        }

        match connection.authorization_type {
            AuthorizationType::ApiKey => {
                if let Some(key) = &connection.auth_parameters.api_key_auth_parameters {
                    headers.insert(
                        header_name(&key.api_key_name)?,
                        header_value(&key.api_key_value)?,
                    );
                }
            }
            AuthorizationType::Basic => {
                if let Some(basic) = &connection.auth_parameters.basic_auth_parameters {
                    let encoded = base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", basic.username, basic.password));
                    headers.insert(
                        reqwest::header::AUTHORIZATION,
                        header_value(&format!("Basic {encoded}"))?,
                    );
                }
            }
            // The token is fetched when the request is sent.
            AuthorizationType::OAuthClientCredentials => {}
        }

        let region = self.connection_arn.split(':').nth(3).unwrap_or_default();
        let user_agent = format!("Amazon|StepFunctions|HttpInvoke|{region}");
        headers.insert(reqwest::header::USER_AGENT, header_value(&user_agent)?);
        headers.insert(reqwest::header::RANGE, HeaderValue::from_static(RANGE));
        headers.insert(
            HeaderName::from_static("x-stepfn-idempotency-key"),
            header_value(idempotency_key)?,
        );
        Ok(HttpRequest {
            method: self.method.clone(),
            url,
            headers,
            body,
            user_agent,
        })
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Authentication.ConnectionArn` or `InvocationConfig.ConnectionArn`.
pub(super) fn connection_arn(obj: &Map<String, Value>) -> Result<String, StatesError> {
    let mut found = None;
    for field in ["Authentication", "InvocationConfig"] {
        let Some(holder) = obj.get(field) else {
            continue;
        };
        let arn = holder
            .as_object()
            .and_then(|o| o.get("ConnectionArn"))
            .and_then(Value::as_str)
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| {
                runtime(format!(
                    "{field} must be an object with a string ConnectionArn"
                ))
            })?;
        if found.is_some() {
            return Err(runtime(
                "give the connection in Authentication or in InvocationConfig, not in both",
            ));
        }
        found = Some(arn.to_string());
    }
    found.ok_or_else(|| {
        runtime(
            "the HTTP Task parameters need Authentication.ConnectionArn (or \
             InvocationConfig.ConnectionArn): Step Functions calls HTTPS APIs only through an \
             EventBridge connection",
        )
    })
}

pub(super) fn is_forbidden_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN_HEADERS.contains(&lower.as_str())
        || ["x-forwarded-", "x-amz-", "x-amzn-"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

pub(super) fn header_name(name: &str) -> Result<HeaderName, StatesError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| runtime(format!("{name:?} is not a valid header name")))
}

pub(super) fn header_value(value: &str) -> Result<HeaderValue, StatesError> {
    HeaderValue::from_str(value).map_err(|_| runtime("a header value has invalid characters"))
}

/// The definition's `Headers`: each value a scalar or an array of scalars.
pub(super) fn definition_headers(
    h: &Map<String, Value>,
) -> Result<Vec<(HeaderName, HeaderValue)>, StatesError> {
    let mut out = Vec::new();
    for (name, value) in h {
        if is_forbidden_header(name) {
            return Err(runtime(format!(
                "the header {name:?} cannot be set in an HTTP Task"
            )));
        }
        if REPLACED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let header = header_name(name)?;
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            let text = scalar_text(v).ok_or_else(|| {
                runtime(format!(
                    "the value of header {name:?} must be a string, a number, a boolean or an \
                     array of them"
                ))
            })?;
            out.push((header.clone(), header_value(&text)?));
        }
    }
    Ok(out)
}

/// The text of a string, number or boolean.
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `QueryParameters`: an object (arrays repeat their key, nested objects are `key[sub]`), an
/// array of such objects, or a query string.
pub(super) fn query_pairs(q: &Value) -> Result<Vec<(String, String)>, StatesError> {
    let mut out = Vec::new();
    match q {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(k.clone(), v, ArrayFormat::Repeat, &mut out);
            }
        }
        Value::Array(items) => {
            for item in items {
                let fields = item.as_object().ok_or_else(|| {
                    runtime("QueryParameters given as an array must hold JSON objects")
                })?;
                for (k, v) in fields {
                    flatten(k.clone(), v, ArrayFormat::Repeat, &mut out);
                }
            }
        }
        Value::String(s) => {
            let parsed = Url::parse(&format!(
                "http://query.invalid/?{}",
                s.trim_start_matches('?')
            ))
            .map_err(|_| runtime("QueryParameters is not a valid query string"))?;
            for (k, v) in parsed.query_pairs() {
                out.push((k.into_owned(), percent_encode(&v)));
            }
        }
        other => {
            return Err(runtime(format!(
                "QueryParameters must be a JSON object, an array or a string, not {}",
                type_name(other)
            )));
        }
    }
    Ok(out)
}

/// `Transform`: whether the body is URL-encoded, and how its arrays are.
pub(super) fn transform(t: &Value) -> Result<(bool, ArrayFormat), StatesError> {
    let obj = t
        .as_object()
        .ok_or_else(|| runtime("Transform must be a JSON object"))?;
    if let Some(unknown) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "RequestBodyEncoding" | "RequestEncodingOptions"))
    {
        return Err(runtime(format!(
            "Transform has an unknown field {unknown:?}; the fields are RequestBodyEncoding, \
             RequestEncodingOptions"
        )));
    }
    let url_encoded = match obj.get("RequestBodyEncoding") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "NONE" => false,
        Some(Value::String(s)) if s == "URL_ENCODED" => true,
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestBodyEncoding must be NONE or URL_ENCODED, not {other}"
            )));
        }
    };
    let format = match obj.get("RequestEncodingOptions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(options)) => {
            if let Some(unknown) = options.keys().find(|k| k.as_str() != "ArrayFormat") {
                return Err(runtime(format!(
                    "Transform.RequestEncodingOptions has an unknown field {unknown:?}; the \
                     field is ArrayFormat"
                )));
            }
            options.get("ArrayFormat")
        }
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestEncodingOptions must be a JSON object, not {}",
                type_name(other)
            )));
        }
    };
    let array_format = match format {
        None | Some(Value::Null) => ArrayFormat::Indices,
        Some(Value::String(s)) => match s.as_str() {
            "INDICES" => ArrayFormat::Indices,
            "REPEAT" => ArrayFormat::Repeat,
            "COMMAS" => ArrayFormat::Commas,
            "BRACKETS" => ArrayFormat::Brackets,
            _ => {
                return Err(runtime(format!(
                    "Transform.RequestEncodingOptions.ArrayFormat must be INDICES, REPEAT, \
                     COMMAS or BRACKETS, not {s:?}"
                )));
            }
        },
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestEncodingOptions.ArrayFormat must be a string, not {}",
                type_name(other)
            )));
        }
    };
    Ok((url_encoded, array_format))
}

/// The request body with the connection's body parameters merged in.
pub(super) fn merge_body(
    body: Option<Value>,
    params: &[Parameter],
) -> Result<Option<Value>, StatesError> {
    if params.is_empty() {
        return Ok(body);
    }
    let mut fields = match body {
        None => Map::new(),
        Some(Value::Object(fields)) => fields,
        // Spec: "If you specify the request body as a string instead of a JSON object, and the
        // EventBridge connection also contains request body, Step Functions can't merge the
        // request body [...]. It fails the HTTP Task with the States.Runtime error."
        Some(other) => {
            return Err(runtime(format!(
                "RequestBody is {}, which cannot be merged with the body parameters of the \
                 connection",
                type_name(&other)
            )));
        }
    };
    for p in params {
        fields.insert(p.key.clone(), Value::String(p.value.clone()));
    }
    Ok(Some(Value::Object(fields)))
}

/// Percent-encodes all but RFC 3986's unreserved characters (space is `%20`).
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Flattens `value` under the raw key `key` into (raw key, percent-encoded value) pairs.
pub(super) fn flatten(
    key: String,
    value: &Value,
    format: ArrayFormat,
    out: &mut Vec<(String, String)>,
) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(format!("{key}[{k}]"), v, format, out);
            }
        }
        Value::Array(items) => {
            let scalars: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            match (format, scalars) {
                (ArrayFormat::Commas, Some(texts)) => {
                    if !texts.is_empty() {
                        let joined: Vec<String> = texts.iter().map(|t| percent_encode(t)).collect();
                        out.push((key, joined.join(",")));
                    }
                }
                // COMMAS cannot write nested values: they take indices.
                (ArrayFormat::Indices | ArrayFormat::Commas, _) => {
                    for (i, item) in items.iter().enumerate() {
                        flatten(format!("{key}[{i}]"), item, format, out);
                    }
                }
                (ArrayFormat::Brackets, _) => {
                    for item in items {
                        flatten(format!("{key}[]"), item, format, out);
                    }
                }
                (ArrayFormat::Repeat, _) => {
                    for item in items {
                        flatten(key.clone(), item, format, out);
                    }
                }
            }
        }
        Value::Null => out.push((key, String::new())),
        scalar => {
            let text = scalar_text(scalar).unwrap_or_default();
            out.push((key, percent_encode(&text)));
        }
    }
}

/// An object as `application/x-www-form-urlencoded` text.
pub(super) fn form_encode(fields: &Map<String, Value>, format: ArrayFormat) -> String {
    let mut pairs = Vec::new();
    for (k, v) in fields {
        flatten(k.clone(), v, format, &mut pairs);
    }
    join_pairs(&pairs)
}

/// `key=value&...` from raw keys and encoded values.
pub(super) fn join_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={v}", percent_encode(k)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Appends encoded pairs to the URL's own query.
pub(super) fn append_query(url: &mut Url, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let added = join_pairs(pairs);
    let query = match url.query() {
        Some(own) if !own.is_empty() => format!("{own}&{added}"),
        _ => added,
    };
    url.set_query(Some(&query));
}

/// The URL without query or credentials, for causes.
pub(super) fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Only fails for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
