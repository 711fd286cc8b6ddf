//! The optimized integrations Step Functions has (`arn:aws:states:::<service>:<action>`),
//! with the integration patterns each takes, from AWS's "Integrating services" pages. A
//! resource of a listed service with an action or pattern it does not have (`dynamodb:query`,
//! `lambda:invoke.sync`) is refused as AWS refuses it; services not listed here are left to
//! their own checks. The AWS SDK integrations (`aws-sdk:<service>:<action>`) are checked
//! against the service models: the service must exist, have the action (in camelCase), not
//! stream events, and take no `.sync`; static parameter names must be members of the action's
//! input.

use serde_json::Value;

use crate::asl::resource::{Pattern, Resource};
use crate::asl::services::{self, Support};

/// Request-response (no suffix).
const R: u8 = 1;
/// `.sync`.
const S: u8 = 2;
/// `.sync:2`.
const S2: u8 = 4;
/// `.waitForTaskToken`.
const W: u8 = 8;

/// Service, then each action with the patterns it takes.
const OPTIMIZED: &[(&str, &[(&str, u8)])] = &[
    ("lambda", &[("invoke", R | W)]),
    (
        "dynamodb",
        &[
            ("getItem", R),
            ("putItem", R),
            ("updateItem", R),
            ("deleteItem", R),
        ],
    ),
    ("sns", &[("publish", R | W)]),
    ("sqs", &[("sendMessage", R | W)]),
    ("events", &[("putEvents", R | W)]),
    ("states", &[("startExecution", R | S | S2 | W)]),
    ("http", &[("invoke", R)]),
    ("apigateway", &[("invoke", R | W)]),
    ("batch", &[("submitJob", R | S | W)]),
    ("ecs", &[("runTask", R | S | W)]),
    ("glue", &[("startJobRun", R | S | W)]),
    ("databrew", &[("startJobRun", R | S | W)]),
    ("mediaconvert", &[("createJob", R | S)]),
    (
        "s3",
        &[("getObject", R), ("putObject", R), ("listObjectsV2", R)],
    ),
    (
        "athena",
        &[
            ("startQueryExecution", R | S | W),
            ("stopQueryExecution", R),
            ("getQueryExecution", R),
            ("getQueryResults", R),
        ],
    ),
    (
        "bedrock",
        &[
            ("invokeModel", R),
            ("createModelCustomizationJob", R | S | W),
        ],
    ),
    (
        "codebuild",
        &[
            ("startBuild", R | S | W),
            ("stopBuild", R),
            ("batchDeleteBuilds", R),
            ("batchGetReports", R),
            ("startBuildBatch", R | S | W),
            ("stopBuildBatch", R),
            ("retryBuildBatch", R | S | W),
            ("deleteBuildBatch", R),
        ],
    ),
    (
        "sagemaker",
        &[
            ("createEndpoint", R),
            ("createEndpointConfig", R),
            ("createHyperParameterTuningJob", R | S | W),
            ("createLabelingJob", R | S | W),
            ("createModel", R),
            ("createProcessingJob", R | S | W),
            ("createTrainingJob", R | S | W),
            ("createTransformJob", R | S | W),
            ("updateEndpoint", R),
        ],
    ),
    (
        "elasticmapreduce",
        &[
            ("createCluster", R | S | W),
            ("setClusterTerminationProtection", R),
            ("modifyInstanceFleetByName", R),
            ("modifyInstanceGroupByName", R),
            ("terminateCluster", R | S | W),
            ("addStep", R | S | W),
            ("cancelStep", R),
        ],
    ),
    (
        "emr-containers",
        &[
            ("startJobRun", R | S | W),
            ("createVirtualCluster", R),
            ("deleteVirtualCluster", R | S | W),
        ],
    ),
    (
        "emr-serverless",
        &[
            ("createApplication", R | S),
            ("startApplication", R | S),
            ("stopApplication", R | S),
            ("deleteApplication", R | S),
            ("startJobRun", R | S),
            ("cancelJobRun", R | S),
        ],
    ),
    (
        "eks",
        &[
            ("createCluster", R | S | W),
            ("deleteCluster", R | S | W),
            ("createFargateProfile", R | S | W),
            ("deleteFargateProfile", R | S | W),
            ("createNodegroup", R | S | W),
            ("deleteNodegroup", R | S | W),
            ("runJob", R | S | W),
            ("call", R),
        ],
    ),
];

/// AWS's message for a resource it does not recognize.
fn not_recognized(resource: &Resource) -> String {
    format!(
        "The resource provided {} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.",
        resource.as_str()
    )
}

/// Why an `aws-sdk:*` resource does not exist (our words) and AWS's message; `None` when it
/// exists or is no AWS SDK resource.
pub(super) fn unknown_sdk_action(resource: &Resource) -> Option<(String, String)> {
    let (service, action, pattern) = resource.integration()?;
    let service = service.strip_prefix("aws-sdk:")?;
    let why = match services::action_support(service, action) {
        Support::Supported => match pattern {
            Pattern::RequestResponse | Pattern::WaitForTaskToken => return None,
            _ => "AWS SDK integrations take no .sync suffix".to_string(),
        },
        Support::UnknownService => format!("there is no AWS service '{service}' in the AWS SDK integrations"),
        Support::UnknownAction => format!("the {service} service has no action '{action}' (actions are the API's operations in camelCase)"),
        Support::Unsupported => format!("Step Functions does not run {service}:{action}: it streams events"),
    };
    Some((why, not_recognized(resource)))
}

/// The static parameter names of an `aws-sdk:*` task that are no member of the action's
/// input (`Foo` and `Foo.$` both name `Foo`).
pub(super) fn unknown_sdk_fields(resource: &Resource, parameters: &Value) -> Vec<String> {
    let Some((service, action, _)) = resource.integration() else {
        return Vec::new();
    };
    let (Some(service), Value::Object(fields)) = (service.strip_prefix("aws-sdk:"), parameters)
    else {
        return Vec::new();
    };
    let Some(model) = services::service(service) else {
        return Vec::new();
    };
    let Some(op) = model.operation_for_action(action) else {
        return Vec::new();
    };
    let input = op.input.as_ref().and_then(|i| model.shape(&i.shape));
    fields
        .keys()
        .map(|k| k.strip_suffix(".$").unwrap_or(k))
        .filter(|k| input.is_none_or(|shape| shape.member(k).is_none()))
        .map(str::to_string)
        .collect()
}

/// AWS's message when `resource` is an optimized integration AWS does not have; `None` when
/// it has it or the service is not one this table knows.
pub(super) fn unrecognized(resource: &Resource) -> Option<String> {
    let (service, action, pattern) = resource.integration()?;
    let (_, actions) = OPTIMIZED.iter().find(|(s, _)| *s == service)?;
    let bit = match pattern {
        Pattern::RequestResponse => R,
        Pattern::Sync => S,
        Pattern::Sync2 => S2,
        Pattern::WaitForTaskToken => W,
    };
    let known = actions
        .iter()
        .any(|(a, patterns)| *a == action && patterns & bit != 0);
    (!known).then(|| not_recognized(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(arn: &str) -> Option<String> {
        unrecognized(&Resource::parse(arn))
    }

    #[test]
    fn actions_and_patterns_aws_does_not_have_are_unrecognized() {
        assert_eq!(
            check("arn:aws:states:::dynamodb:query").as_deref(),
            Some(
                "The resource provided arn:aws:states:::dynamodb:query is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
            )
        );
        assert!(check("arn:aws:states:::lambda:invoke.sync").is_some());
        assert!(check("arn:aws:states:::dynamodb:getItem.waitForTaskToken").is_some());
        assert!(check("arn:aws:states:::sqs:sendMessage.sync").is_some());
    }

    #[test]
    fn what_aws_has_and_what_the_table_does_not_know_pass() {
        for arn in [
            "arn:aws:states:::dynamodb:getItem",
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:::sns:publish",
            "arn:aws:states:::events:putEvents.waitForTaskToken",
            "arn:aws:states:::ecs:runTask.sync",
            "arn:aws:states:::somenewservice:doIt",
            "arn:aws:lambda:us-east-1:111111111111:function:f",
        ] {
            assert_eq!(check(arn), None, "{arn}");
        }
    }

    #[test]
    fn aws_sdk_actions_are_checked_against_the_models() {
        let sdk = |arn: &str| unknown_sdk_action(&Resource::parse(arn)).map(|(why, _)| why);
        assert_eq!(sdk("arn:aws:states:::aws-sdk:dynamodb:query"), None);
        assert_eq!(
            sdk("arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken"),
            None
        );
        assert_eq!(
            sdk("arn:aws:states:::aws-sdk:s3:fetchObject").as_deref(),
            Some("the s3 service has no action 'fetchObject' (actions are the API's operations in camelCase)")
        );
        assert_eq!(
            sdk("arn:aws:states:::aws-sdk:nosuch:doIt").as_deref(),
            Some("there is no AWS service 'nosuch' in the AWS SDK integrations")
        );
        assert!(sdk("arn:aws:states:::aws-sdk:s3:getObject.sync").is_some());
        assert!(sdk("arn:aws:states:::aws-sdk:s3:selectObjectContent").is_some());
        assert_eq!(sdk("arn:aws:states:::sqs:sendMessage"), None);
    }

    #[test]
    fn aws_sdk_parameters_must_be_members_of_the_input() {
        let resource = Resource::parse("arn:aws:states:::aws-sdk:s3:getObject");
        let params = serde_json::json!({"Bucket": "b", "Key.$": "$.k", "Bukket": "x"});
        assert_eq!(
            unknown_sdk_fields(&resource, &params),
            vec!["Bukket".to_string()]
        );
        let apigw = Resource::parse("arn:aws:states:::aws-sdk:apigateway:getRestApi");
        assert!(unknown_sdk_fields(&apigw, &serde_json::json!({"RestApiId": "x"})).is_empty());
    }
}
