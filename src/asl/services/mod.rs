//! The AWS service models behind `arn:aws:states:::aws-sdk:<service>:<action>`: every service
//! botocore describes, extracted by `infra/service-models.py` into `models/aws/` (one gzip
//! stream per service and an index) and compiled into the binary. A service's model is
//! decompressed and parsed the first time a definition or a task names it, then kept.
//!
//! Validation asks [`action_support`] whether an action exists; the task layer serializes
//! requests and reads responses with the [`ServiceModel`].

mod model;
mod result_check;

pub use result_check::{check_mocked_result, FieldValidation};

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};

pub use model::{
    pascal, ErrorTrait, Http, Location, Member, Metadata, OpInput, OpOutput, Operation, Protocol,
    ServiceModel, Shape, ShapeType, XmlNamespace,
};

/// The concatenated gzip streams, one per service.
static MODELS: &[u8] = include_bytes!("../../../models/aws/services.bin");
/// `name\toffset\tlength\tbotocore name` per service, after one comment line.
static INDEX: &str = include_str!("../../../models/aws/services.idx");

/// Where one service's model lies in [`MODELS`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: usize,
    len: usize,
}

fn index() -> &'static HashMap<&'static str, Entry> {
    static PARSED: OnceLock<HashMap<&'static str, Entry>> = OnceLock::new();
    PARSED.get_or_init(|| {
        INDEX
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|line| {
                let mut parts = line.split('\t');
                let name = parts.next()?;
                let offset = parts.next()?.parse().ok()?;
                let len = parts.next()?.parse().ok()?;
                Some((name, Entry { offset, len }))
            })
            .collect()
    })
}

/// The botocore release the models come from (the index's first line).
pub fn models_release() -> &'static str {
    INDEX
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .and_then(|l| l.split(':').next())
        .unwrap_or("botocore")
}

/// Every service name `aws-sdk:<name>` takes, sorted.
pub fn service_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = index().keys().copied().collect();
    names.sort_unstable();
    names
}

/// The model of the service Step Functions names `name` (`s3`, `sqs`, `eventbridge`, `sfn`,
/// ...), or `None` when there is no such service.
pub fn service(name: &str) -> Option<Arc<ServiceModel>> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<ServiceModel>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
    let mut loaded = loaded.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = loaded.get(name) {
        return Some(Arc::clone(m));
    }
    let entry = *index().get(name)?;
    let model = Arc::new(decode(name, entry)?);
    loaded.insert(name.to_string(), Arc::clone(&model));
    Some(model)
}

fn decode(name: &str, entry: Entry) -> Option<ServiceModel> {
    let packed = MODELS.get(entry.offset..entry.offset + entry.len)?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(packed)
        .read_to_end(&mut text)
        .ok()?;
    ServiceModel::from_json(name, &text).ok()
}

/// Whether Step Functions runs `aws-sdk:<service>:<action>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// The service has the action and a task can call it.
    Supported,
    /// No service of that name.
    UnknownService,
    /// The service has no such action.
    UnknownAction,
    /// The action exists but streams events (an event stream in its input or output), which
    /// Step Functions does not run.
    Unsupported,
}

/// Whether the `aws-sdk:<service>:<action>` integration exists.
pub fn action_support(service_name: &str, action: &str) -> Support {
    let Some(model) = service(service_name) else {
        return Support::UnknownService;
    };
    match model.operation_for_action(action) {
        None => Support::UnknownAction,
        Some(op) if model.streams_events(op) => Support::Unsupported,
        Some(_) => Support::Supported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_step_functions_names_are_in_the_catalog() {
        for name in [
            "s3",
            "sqs",
            "sns",
            "eventbridge",
            "sfn",
            "ec2",
            "lambda",
            "dynamodb",
            "cloudwatchlogs",
            "secretsmanager",
            "athena",
            "glue",
            "rekognition",
            "bedrockruntime",
        ] {
            assert!(service(name).is_some(), "{name}");
        }
        assert!(service("events").is_none());
        assert!(service_names().len() > 400);
        assert!(models_release().starts_with("botocore "));
    }

    #[test]
    fn actions_are_the_operations_in_camel_case() {
        assert_eq!(action_support("s3", "getObject"), Support::Supported);
        assert_eq!(action_support("s3", "GetObject"), Support::UnknownAction);
        assert_eq!(action_support("s3", "fetchObject"), Support::UnknownAction);
        assert_eq!(
            action_support("nosuch", "getObject"),
            Support::UnknownService
        );
        assert_eq!(
            action_support("s3", "selectObjectContent"),
            Support::Unsupported
        );
        assert_eq!(
            action_support("bedrockruntime", "invokeModelWithResponseStream"),
            Support::Unsupported
        );
    }

    #[test]
    fn a_model_knows_its_protocol_and_shapes() {
        let s3 = service("s3").expect("s3");
        assert_eq!(s3.metadata.protocol, Protocol::RestXml);
        assert_eq!(s3.client_name(), "S3");
        let op = s3.operation_for_action("putObject").expect("putObject");
        assert_eq!(op.http.method, "PUT");
        assert_eq!(op.http.request_uri, "/{Bucket}/{Key+}");
        let input = s3
            .shape(&op.input.as_ref().expect("input").shape)
            .expect("shape");
        let (name, body) = input.member("Body").expect("Body");
        assert_eq!(name, "Body");
        assert!(body.streaming || s3.shape(&body.shape).is_some_and(|s| s.streaming));
        assert_eq!(input.payload.as_deref(), Some("Body"));
        let sqs = service("sqs").expect("sqs");
        assert_eq!(sqs.metadata.protocol, Protocol::Json);
        assert_eq!(sqs.metadata.target_prefix.as_deref(), Some("AmazonSQS"));
        assert_eq!(service("dynamodb").expect("ddb").client_name(), "DynamoDb");
        assert_eq!(service("sfn").expect("sfn").client_name(), "Sfn");
        assert_eq!(
            service("secretsmanager").expect("sm").client_name(),
            "SecretsManager"
        );
        assert_eq!(
            service("ec2").expect("ec2").metadata.protocol,
            Protocol::Ec2
        );
        assert_eq!(
            service("sns").expect("sns").metadata.protocol,
            Protocol::Query
        );
        assert_eq!(
            service("lambda").expect("lambda").metadata.protocol,
            Protocol::RestJson
        );
    }

    #[test]
    fn members_answer_to_their_pascal_case_name() {
        // API Gateway's members are camelCase in the model; Step Functions takes PascalCase.
        let apigw = service("apigateway").expect("apigateway");
        let op = apigw.operation_for_action("getRestApi").expect("op");
        let input = apigw
            .shape(&op.input.as_ref().expect("input").shape)
            .expect("shape");
        assert_eq!(input.member("RestApiId").map(|(n, _)| n), Some("restApiId"));
        assert_eq!(input.member("restApiId").map(|(n, _)| n), Some("restApiId"));
    }
}
