//! The AWS service integrations: `arn:aws:states:::aws-sdk:<service>:<action>` for every
//! service in the models (`asl::services`), and the optimized SQS, SNS and EventBridge
//! integrations. One HTTP client signs requests with SigV4 and sends them to the service's
//! endpoint (or `AWS_ENDPOINT_URL[_<SERVICE>]`); one module per protocol writes the request
//! and reads the response.

pub(crate) mod client;
pub(crate) mod json;
pub(crate) mod query;
pub(crate) mod rest;
pub(crate) mod tasks;
pub(crate) mod wire;
pub(crate) mod xml;

pub use tasks::AwsTasks;
