//! One AWS service's model as `infra/service-models.py` compacts it from botocore: metadata,
//! operations and shapes, with botocore's own key names.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Map;

/// The wire protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// awsJson 1.0 / 1.1: `POST /`, `X-Amz-Target`, a JSON body.
    #[serde(rename = "json")]
    Json,
    /// restJson1: HTTP bindings, a JSON body.
    #[serde(rename = "rest-json")]
    RestJson,
    /// restXml: HTTP bindings, an XML body.
    #[serde(rename = "rest-xml")]
    RestXml,
    /// awsQuery: form-encoded request, XML response.
    #[serde(rename = "query")]
    Query,
    /// ec2Query: as awsQuery with EC2's member names and flat lists.
    #[serde(rename = "ec2")]
    Ec2,
    /// Smithy RPC v2 CBOR (no service botocore has uses only this).
    #[serde(rename = "smithy-rpc-v2-cbor")]
    Cbor,
}

/// What the runtime needs of a service's metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The wire protocol.
    pub protocol: Protocol,
    /// The API version (`2006-03-01`), sent by the query protocols.
    pub api_version: String,
    /// The host's first label (`s3`, `sqs`, `monitoring`).
    pub endpoint_prefix: String,
    /// The SigV4 service name, when it is not the endpoint prefix.
    #[serde(default)]
    pub signing_name: Option<String>,
    /// The service id (`S3`, `DynamoDB`, `Secrets Manager`).
    pub service_id: String,
    /// `1.0` or `1.1` for the JSON protocol.
    #[serde(default)]
    pub json_version: Option<String>,
    /// `X-Amz-Target`'s prefix for the JSON protocol.
    #[serde(default)]
    pub target_prefix: Option<String>,
    /// The host of a global service (`iam.amazonaws.com`).
    #[serde(default)]
    pub global_endpoint: Option<String>,
    /// The XML namespace of restXml and query bodies.
    #[serde(default)]
    pub xml_namespace: Option<String>,
}

/// An operation's HTTP binding.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    /// `GET`, `POST`, ...
    pub method: String,
    /// `/{Bucket}/{Key+}?uploads`.
    pub request_uri: String,
    /// The status of a successful response, when it is not 200.
    #[serde(default)]
    pub response_code: Option<u16>,
}

/// An operation's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpInput {
    /// The input structure.
    pub shape: String,
    /// The root element of a restXml body (`CreateBucketConfiguration`).
    #[serde(default)]
    pub location_name: Option<String>,
    /// The namespace of that root element.
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
}

/// An operation's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpOutput {
    /// The output structure.
    pub shape: String,
    /// The query protocols' `<OperationResult>` element.
    #[serde(default)]
    pub result_wrapper: Option<String>,
}

/// An operation's endpoint trait.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// A prefix for the host, with `{Member}` labels.
    #[serde(default)]
    pub host_prefix: Option<String>,
}

/// The checksum trait of an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpChecksum {
    /// Whether a request checksum is required.
    #[serde(default)]
    pub request_checksum_required: bool,
}

/// One operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Its name (`PutObject`); filled in from the operations map.
    #[serde(skip)]
    pub name: String,
    /// The HTTP binding.
    pub http: Http,
    /// The input.
    #[serde(default)]
    pub input: Option<OpInput>,
    /// The output.
    #[serde(default)]
    pub output: Option<OpOutput>,
    /// The errors it models, by shape name.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The endpoint trait.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Whether a `Content-MD5` is required.
    #[serde(default)]
    pub http_checksum_required: bool,
    /// The flexible checksum trait.
    #[serde(default)]
    pub http_checksum: Option<HttpChecksum>,
    /// `none` for operations that are not signed.
    #[serde(default)]
    pub authtype: Option<String>,
}

impl Operation {
    /// Whether the request carries a checksum of its body (`Content-MD5`).
    pub fn needs_checksum(&self) -> bool {
        self.http_checksum_required
            || self
                .http_checksum
                .as_ref()
                .is_some_and(|c| c.request_checksum_required)
    }
}

/// Where a member goes in a REST request or comes from in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Location {
    /// A `{label}` of the URI.
    Uri,
    /// A query-string parameter.
    Querystring,
    /// One header.
    Header,
    /// Every header with a prefix (a map).
    Headers,
    /// The response's status code.
    StatusCode,
}

/// An XML namespace (`{"uri": ...}` with an optional prefix).
#[derive(Debug, Clone, Deserialize)]
pub struct XmlNamespace {
    /// The namespace URI.
    pub uri: String,
    /// Its prefix (`xsi`), when the attribute is `xmlns:<prefix>`.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// A reference to a shape, as a structure's member, a list's member or a map's key/value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The shape it refers to.
    pub shape: String,
    /// Its REST binding.
    #[serde(default)]
    pub location: Option<Location>,
    /// Its name on the wire (header, query key, XML element, JSON key).
    #[serde(default)]
    pub location_name: Option<String>,
    /// Its name in the ec2Query protocol.
    #[serde(default)]
    pub query_name: Option<String>,
    /// An XML namespace declared on its element.
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
    /// An XML attribute rather than an element.
    #[serde(default)]
    pub xml_attribute: bool,
    /// A flattened list or map (no wrapper element).
    #[serde(default)]
    pub flattened: bool,
    /// A streaming blob.
    #[serde(default)]
    pub streaming: bool,
    /// A JSON value carried as a base64 header.
    #[serde(default)]
    pub jsonvalue: bool,
    /// A label of the endpoint's host prefix.
    #[serde(default)]
    pub host_label: bool,
    /// Filled with a fresh UUID when left out.
    #[serde(default)]
    pub idempotency_token: bool,
    /// A timestamp format overriding the protocol's.
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

/// A shape's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ShapeType {
    /// Members by name.
    Structure,
    /// A list of one member shape.
    List,
    /// A map from a key shape to a value shape.
    Map,
    /// Text.
    String,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    Long,
    /// A 16-bit integer.
    Short,
    /// An 8-bit integer.
    Byte,
    /// A float.
    Float,
    /// A double.
    Double,
    /// An arbitrary-precision decimal.
    BigDecimal,
    /// An arbitrary-precision integer.
    BigInteger,
    /// True or false.
    Boolean,
    /// A point in time.
    Timestamp,
    /// Bytes.
    Blob,
}

/// One shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ShapeType,
    /// A structure's members, in the model's order.
    #[serde(default)]
    pub members: Map<String, serde_json::Value>,
    /// A list's member.
    #[serde(default)]
    pub member: Option<Member>,
    /// A map's key.
    #[serde(default)]
    pub key: Option<Member>,
    /// A map's value.
    #[serde(default)]
    pub value: Option<Member>,
    /// The members a request must have.
    #[serde(default)]
    pub required: Vec<String>,
    /// The member that is the whole HTTP body.
    #[serde(default)]
    pub payload: Option<String>,
    /// A flattened list or map.
    #[serde(default)]
    pub flattened: bool,
    /// Its XML element name.
    #[serde(default)]
    pub location_name: Option<String>,
    /// Its XML namespace.
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
    /// A timestamp's format on the wire (`iso8601`, `rfc822`, `unixTimestamp`).
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// A streaming blob.
    #[serde(default)]
    pub streaming: bool,
    /// An event stream.
    #[serde(default)]
    pub eventstream: bool,
    /// An error structure.
    #[serde(default)]
    pub exception: bool,
    /// An error's code and status.
    #[serde(default)]
    pub error: Option<ErrorTrait>,
    /// A shape botocore adds to the service's own model (S3's `AccessDenied`).
    #[serde(default)]
    pub synthetic: bool,
    /// A document (any JSON value).
    #[serde(default)]
    pub document: bool,
    /// A union (one member set).
    #[serde(default)]
    pub union: bool,
    /// A JSON value carried as a string.
    #[serde(default)]
    pub jsonvalue: bool,
    /// The members parsed once: filled in after loading.
    #[serde(skip)]
    parsed: Vec<(String, Member)>,
}

/// An error shape's wire code and status.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    /// The code on the wire, when it is not the shape's name.
    #[serde(default)]
    pub code: Option<String>,
    /// The HTTP status.
    #[serde(default)]
    pub http_status_code: Option<u16>,
}

impl Shape {
    /// A structure's members in the model's order.
    pub fn members(&self) -> &[(String, Member)] {
        &self.parsed
    }

    /// The member a task parameter `key` names: its name exactly, or with the first letter
    /// in upper case (Step Functions' PascalCase for models whose members are camelCase).
    pub fn member(&self, key: &str) -> Option<(&str, &Member)> {
        self.parsed
            .iter()
            .find(|(n, _)| n == key)
            .or_else(|| self.parsed.iter().find(|(n, _)| pascal(n) == key))
            .map(|(n, m)| (n.as_str(), m))
    }
}

/// `name` with its first letter in upper case: a member's name in Step Functions' parameters
/// and results.
pub fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() => c.to_ascii_uppercase().to_string() + chars.as_str(),
        _ => name.to_string(),
    }
}

/// A service's model.
#[derive(Debug)]
pub struct ServiceModel {
    /// The name Step Functions gives it (`s3`, `eventbridge`).
    pub name: String,
    /// Its metadata.
    pub metadata: Metadata,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

#[derive(Deserialize)]
struct Raw {
    metadata: Metadata,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

impl ServiceModel {
    /// Parses a compact model.
    ///
    /// # Errors
    /// When the text is not a model (the committed data is checked by the tests).
    pub fn from_json(name: &str, text: &[u8]) -> Result<ServiceModel, serde_json::Error> {
        let mut raw: Raw = serde_json::from_slice(text)?;
        for (op_name, op) in &mut raw.operations {
            op.name.clone_from(op_name);
        }
        for shape in raw.shapes.values_mut() {
            let members = std::mem::take(&mut shape.members);
            shape.parsed = members
                .into_iter()
                .map(|(n, v)| serde_json::from_value(v).map(|m| (n, m)))
                .collect::<Result<_, _>>()?;
        }
        Ok(ServiceModel {
            name: name.to_string(),
            metadata: raw.metadata,
            operations: raw.operations,
            shapes: raw.shapes,
        })
    }

    /// The operation a camelCase action names (`getObject` is `GetObject`).
    pub fn operation_for_action(&self, action: &str) -> Option<&Operation> {
        if !action.starts_with(|c: char| c.is_ascii_lowercase()) {
            return None;
        }
        self.operations.get(&pascal(action))
    }

    /// A shape by name.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// Whether an operation's input or output has an event stream.
    pub fn streams_events(&self, op: &Operation) -> bool {
        let streams = |shape: &str| {
            self.shape(shape).is_some_and(|s| {
                s.members()
                    .iter()
                    .any(|(_, m)| self.shape(&m.shape).is_some_and(|t| t.eventstream))
            })
        };
        op.input.as_ref().is_some_and(|i| streams(&i.shape))
            || op.output.as_ref().is_some_and(|o| streams(&o.shape))
    }

    /// The name the AWS SDK for Java gives the service's client (`S3`, `DynamoDb`, `Sfn`,
    /// `SecretsManager`): the prefix of Step Functions' error names for the service.
    pub fn client_name(&self) -> String {
        client_name(&self.metadata.service_id)
    }

    /// The SigV4 signing name.
    pub fn signing_name(&self) -> &str {
        self.metadata
            .signing_name
            .as_deref()
            .unwrap_or(&self.metadata.endpoint_prefix)
    }

    /// The error shape a wire code names, as the SDK for Java finds its exception class: by
    /// the shape's name or its error trait's code, among the service's own error shapes.
    pub fn error_shape(&self, code: &str) -> Option<(&str, &Shape)> {
        if let Some((name, shape)) = self.shapes.get_key_value(code) {
            if shape.exception && !shape.synthetic {
                return Some((name.as_str(), shape));
            }
        }
        self.shapes
            .iter()
            .find(|(_, s)| {
                s.exception
                    && !s.synthetic
                    && s.error.as_ref().and_then(|e| e.code.as_deref()) == Some(code)
            })
            .map(|(n, s)| (n.as_str(), s))
    }
}

/// The Java client name of a service id: its words without a trailing `Service`, each run of
/// capitals after the first letter in lower case (`DynamoDB` is `DynamoDb`, `SFN` is `Sfn`).
fn client_name(service_id: &str) -> String {
    let mut words: Vec<&str> = service_id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 1
        && words
            .last()
            .is_some_and(|w| w.eq_ignore_ascii_case("service"))
    {
        words.pop();
    }
    let mut out = String::new();
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i == 0 {
                out.push(c.to_ascii_uppercase());
            } else if c.is_ascii_uppercase() && prev_upper && !next_lower {
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::client_name;

    #[test]
    fn client_names_follow_the_java_sdk() {
        for (id, name) in [
            ("S3", "S3"),
            ("DynamoDB", "DynamoDb"),
            ("SFN", "Sfn"),
            ("Secrets Manager", "SecretsManager"),
            ("SQS", "Sqs"),
            ("EC2", "Ec2"),
            ("EventBridge", "EventBridge"),
            ("CloudWatch Logs", "CloudWatchLogs"),
            ("API Gateway", "ApiGateway"),
            ("Database Migration Service", "DatabaseMigration"),
        ] {
            assert_eq!(client_name(id), name, "{id}");
        }
    }
}
