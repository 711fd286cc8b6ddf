//! The moto server the AWS service tests call (S3, SQS, SNS, EventBridge, EC2, Lambda, IAM on
//! one port), started by `bash infra/test.sh` through `infra/moto.sh`.

/// moto's endpoint, from STEPFN_TEST_MOTO_ENDPOINT.
pub(crate) fn moto_endpoint() -> String {
    std::env::var("STEPFN_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STEPFN_TEST_MOTO_ENDPOINT is not set: run the suite with `bash infra/test.sh`, which \
             installs and starts moto (needs python3 with venv), or start it with \
             `bash infra/moto.sh start` and export the endpoint it prints"
        )
    })
}
