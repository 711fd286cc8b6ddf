//! The optimized integrations Step Functions has (`arn:aws:states:::<service>:<action>`),
//! with the integration patterns each takes, from AWS's "Integrating services" pages. A
//! resource of a listed service with an action or pattern it does not have (`dynamodb:query`,
//! `lambda:invoke.sync`) is refused as AWS refuses it; services not listed here and the AWS
//! SDK integrations (`aws-sdk:*`) are left to their own checks.

use crate::asl::resource::{Pattern, Resource};

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
    (!known).then(|| {
        format!(
            "The resource provided {} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region.",
            resource.as_str()
        )
    })
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
            "arn:aws:states:::aws-sdk:dynamodb:query",
            "arn:aws:states:::somenewservice:doIt",
            "arn:aws:lambda:us-east-1:111111111111:function:f",
        ] {
            assert_eq!(check(arn), None, "{arn}");
        }
    }
}
