//! EventBridge connections: the `--connections` file loaded and checked, and each connection's
//! authorization (API key, basic, OAuth client credentials) with its extra parameters.

use super::*;

/// A connections file or value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    /// The file cannot be read.
    #[error("cannot read connections file {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("connections file {} is not JSON: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A connection is malformed.
    #[error("{origin}: invalid at {}: {message}", pointer_text(.pointer))]
    Invalid {
        /// `connections file <path>` or `connections`.
        origin: String,
        /// JSON Pointer of the problem (RFC 6901; `~1` stands for `/` in an ARN).
        pointer: String,
        /// What is wrong.
        message: String,
    },
}

/// A pointer as the messages show it: the empty pointer is the whole document.
pub(super) fn pointer_text(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level".to_string()
    } else {
        pointer.to_string()
    }
}

/// One segment of a JSON Pointer, escaped: `~` as `~0`, `/` as `~1`.
pub(super) fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// EventBridge connections by `ConnectionArn`.
///
/// The file is a JSON object from ConnectionArn to what EventBridge's CreateConnection takes:
///
/// ```json
/// {
///   "arn:aws:events:us-east-1:123456789012:connection/Stripe/81210c42": {
///     "AuthorizationType": "API_KEY",
///     "AuthParameters": {
///       "ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": "Bearer sk_test"},
///       "InvocationHttpParameters": {
///         "HeaderParameters": [{"Key": "Stripe-Version", "Value": "2024-06-20", "IsValueSecret": false}]
///       }
///     }
///   }
/// }
/// ```
///
/// `AuthorizationType` is `API_KEY` (`ApiKeyAuthParameters {ApiKeyName, ApiKeyValue}`), `BASIC`
/// (`BasicAuthParameters {Username, Password}`) or `OAUTH_CLIENT_CREDENTIALS` (`OAuthParameters
/// {AuthorizationEndpoint, HttpMethod, ClientParameters {ClientID, ClientSecret},
/// OAuthHttpParameters}`); `InvocationHttpParameters` and `OAuthHttpParameters` hold
/// `HeaderParameters`, `QueryStringParameters` and `BodyParameters`, arrays of
/// `{Key, Value, IsValueSecret}`.
#[derive(Clone, Default)]
pub struct Connections {
    by_arn: HashMap<String, Arc<Connection>>,
}

impl std::fmt::Debug for Connections {
    // Connections hold secrets: only their ARNs are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut arns: Vec<&String> = self.by_arn.keys().collect();
        arns.sort();
        f.debug_struct("Connections").field("arns", &arns).finish()
    }
}

impl Connections {
    /// Reads a connections file.
    ///
    /// # Errors
    /// When the file cannot be read, is not JSON, or a connection is malformed; the message
    /// names the file and the JSON Pointer of the problem.
    pub fn from_file(path: &Path) -> Result<Self, ConnectionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConnectionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| ConnectionsError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&value, &format!("connections file {}", path.display()))
    }

    /// Reads connections from a JSON value.
    ///
    /// # Errors
    /// When a connection is malformed; the message names the JSON Pointer of the problem.
    pub fn from_value(v: &Value) -> Result<Self, ConnectionsError> {
        Self::parse(v, "connections")
    }

    pub(super) fn parse(v: &Value, origin: &str) -> Result<Self, ConnectionsError> {
        let invalid = |pointer: String, message: String| ConnectionsError::Invalid {
            origin: origin.to_string(),
            pointer,
            message,
        };
        let parsed: HashMap<String, Connection> =
            serde_path_to_error::deserialize(v).map_err(|e| {
                let mut pointer = String::new();
                for segment in e.path().iter() {
                    pointer.push('/');
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => {
                            pointer.push_str(&index.to_string());
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            pointer.push_str(&escape_pointer_segment(key));
                        }
                        serde_path_to_error::Segment::Enum { variant } => {
                            pointer.push_str(&escape_pointer_segment(variant));
                        }
                        serde_path_to_error::Segment::Unknown => pointer.push('?'),
                    }
                }
                invalid(pointer, e.inner().to_string())
            })?;
        let mut by_arn = HashMap::with_capacity(parsed.len());
        for (arn, connection) in parsed {
            let at = format!("/{}", escape_pointer_segment(&arn));
            connection
                .check()
                .map_err(|(path, message)| invalid(format!("{at}{path}"), message))?;
            by_arn.insert(arn, Arc::new(connection));
        }
        Ok(Connections { by_arn })
    }

    pub(super) fn get(&self, arn: &str) -> Option<Arc<Connection>> {
        self.by_arn.get(arn).cloned()
    }
}

/// One connection, as EventBridge's CreateConnection takes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct Connection {
    pub(super) authorization_type: AuthorizationType,
    pub(super) auth_parameters: AuthParameters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum AuthorizationType {
    #[serde(rename = "API_KEY")]
    ApiKey,
    #[serde(rename = "BASIC")]
    Basic,
    #[serde(rename = "OAUTH_CLIENT_CREDENTIALS")]
    OAuthClientCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct AuthParameters {
    #[serde(default)]
    pub(super) api_key_auth_parameters: Option<ApiKeyAuth>,
    #[serde(default)]
    pub(super) basic_auth_parameters: Option<BasicAuth>,
    #[serde(default, rename = "OAuthParameters")]
    pub(super) oauth_parameters: Option<OAuth>,
    #[serde(default)]
    pub(super) invocation_http_parameters: Option<HttpParameters>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct ApiKeyAuth {
    pub(super) api_key_name: String,
    pub(super) api_key_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct BasicAuth {
    pub(super) username: String,
    pub(super) password: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct OAuth {
    pub(super) authorization_endpoint: String,
    pub(super) http_method: OAuthMethod,
    pub(super) client_parameters: ClientParameters,
    #[serde(default, rename = "OAuthHttpParameters")]
    pub(super) oauth_http_parameters: Option<HttpParameters>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum OAuthMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
}

impl OAuthMethod {
    pub(super) fn as_method(self) -> Method {
        match self {
            OAuthMethod::Get => Method::GET,
            OAuthMethod::Post => Method::POST,
            OAuthMethod::Put => Method::PUT,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientParameters {
    #[serde(rename = "ClientID")]
    pub(super) client_id: String,
    #[serde(rename = "ClientSecret")]
    pub(super) client_secret: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct HttpParameters {
    #[serde(default)]
    pub(super) header_parameters: Vec<Parameter>,
    #[serde(default)]
    pub(super) query_string_parameters: Vec<Parameter>,
    #[serde(default)]
    pub(super) body_parameters: Vec<Parameter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct Parameter {
    pub(super) key: String,
    pub(super) value: String,
    // Only EventBridge's console hides secret values; stepfn never prints any value.
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) is_value_secret: bool,
}

impl Connection {
    /// Checks what serde cannot: the parameters match the type, headers and URLs are valid.
    /// The error is a pointer relative to the connection and a message.
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        let p = &self.auth_parameters;
        let present = [
            (
                "ApiKeyAuthParameters",
                AuthorizationType::ApiKey,
                p.api_key_auth_parameters.is_some(),
            ),
            (
                "BasicAuthParameters",
                AuthorizationType::Basic,
                p.basic_auth_parameters.is_some(),
            ),
            (
                "OAuthParameters",
                AuthorizationType::OAuthClientCredentials,
                p.oauth_parameters.is_some(),
            ),
        ];
        let type_name = self.authorization_type.name();
        for (field, kind, is_present) in present {
            if kind == self.authorization_type && !is_present {
                return Err((
                    "/AuthParameters".into(),
                    format!("AuthorizationType {type_name} needs {field}"),
                ));
            }
            // CreateConnection: "You must include only authorization parameters for the
            // AuthorizationType you specify."
            if kind != self.authorization_type && is_present {
                return Err((
                    format!("/AuthParameters/{field}"),
                    format!("{field} does not go with AuthorizationType {type_name}"),
                ));
            }
        }
        if let Some(key) = &p.api_key_auth_parameters {
            if HeaderName::from_bytes(key.api_key_name.as_bytes()).is_err() {
                return Err((
                    "/AuthParameters/ApiKeyAuthParameters/ApiKeyName".into(),
                    format!("{:?} is not a valid header name", key.api_key_name),
                ));
            }
            if HeaderValue::from_str(&key.api_key_value).is_err() {
                return Err((
                    "/AuthParameters/ApiKeyAuthParameters/ApiKeyValue".into(),
                    "not a valid header value".into(),
                ));
            }
        }
        if let Some(oauth) = &p.oauth_parameters {
            let url = Url::parse(&oauth.authorization_endpoint).ok();
            if !url.as_ref().is_some_and(is_http_url) {
                return Err((
                    "/AuthParameters/OAuthParameters/AuthorizationEndpoint".into(),
                    format!("{:?} is not an http(s) URL", oauth.authorization_endpoint),
                ));
            }
            if let Some(params) = &oauth.oauth_http_parameters {
                check_headers(
                    params,
                    "/AuthParameters/OAuthParameters/OAuthHttpParameters",
                )?;
            }
        }
        if let Some(params) = &p.invocation_http_parameters {
            check_headers(params, "/AuthParameters/InvocationHttpParameters")?;
        }
        Ok(())
    }

    /// The connection's `InvocationHttpParameters`, empty if none.
    pub(super) fn invocation(&self) -> Option<&HttpParameters> {
        self.auth_parameters.invocation_http_parameters.as_ref()
    }
}

impl AuthorizationType {
    pub(super) fn name(self) -> &'static str {
        match self {
            AuthorizationType::ApiKey => "API_KEY",
            AuthorizationType::Basic => "BASIC",
            AuthorizationType::OAuthClientCredentials => "OAUTH_CLIENT_CREDENTIALS",
        }
    }
}

pub(super) fn check_headers(params: &HttpParameters, at: &str) -> Result<(), (String, String)> {
    for (i, header) in params.header_parameters.iter().enumerate() {
        if HeaderName::from_bytes(header.key.as_bytes()).is_err() {
            return Err((
                format!("{at}/HeaderParameters/{i}/Key"),
                format!("{:?} is not a valid header name", header.key),
            ));
        }
        if HeaderValue::from_str(&header.value).is_err() {
            return Err((
                format!("{at}/HeaderParameters/{i}/Value"),
                "not a valid header value".into(),
            ));
        }
    }
    Ok(())
}

pub(super) fn is_http_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}
