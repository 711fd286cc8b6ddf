//! `stepfn backfill`: the executions of a schedule's past slots, started through a store or
//! through a running `stepfn serve` (its Scheduler API to read the schedule, its Step Functions
//! API to start each slot's execution), its requests signed with the environment's credentials
//! so that a `serve --auth` takes them.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use serde_json::{json, Value};

use stepfn::runtime::arn;
use stepfn::runtime::commands::CommandError;
use stepfn::runtime::schedules::{self, BackfillError, BACKFILL_MAX_SLOTS};
use stepfn::scheduler::expression::Schedule;
use stepfn::scheduler::slot;

use crate::args::StoreArgs;

/// What `stepfn backfill` was told.
pub(crate) struct Request {
    pub(crate) schedule: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) group: String,
    pub(crate) max_concurrency: usize,
    pub(crate) endpoint: Option<String>,
    pub(crate) store: StoreArgs,
}

/// An ISO 8601 time as ms since the epoch; without an offset it is UTC.
fn parse_time(flag: &str, text: &str) -> Result<i64, CommandError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis()));
    }
    Err(CommandError::Invalid(format!(
        "{flag} {text}: not an ISO 8601 time (such as 2026-01-01T00:00:00Z)"
    )))
}

pub(crate) async fn backfill(request: Request) -> Result<ExitCode, CommandError> {
    let from = parse_time("--from", &request.from)?;
    let to = parse_time("--to", &request.to)?;
    let report = match &request.endpoint {
        Some(endpoint) => through_endpoint(endpoint, &request, from, to).await?,
        None => {
            let store = crate::durable_store(&request.store, "backfill").await?;
            let done = schedules::backfill(
                &store,
                &request.group,
                &request.schedule,
                from,
                to,
                request.max_concurrency,
                stepfn::runtime::clock::real_now,
            )
            .await
            .map_err(|e| match e {
                BackfillError::Store(e) => CommandError::from(e),
                other => CommandError::Invalid(other.to_string()),
            })?;
            json!({"slots": done.slots, "started": done.started.len(), "existing": done.existing})
        }
    };
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// One call of the Step Functions API; `Err((type, message))` for an API error.
async fn sfn(
    client: &reqwest::Client,
    endpoint: &str,
    operation: &str,
    body: Value,
) -> Result<Result<Value, (String, String)>, CommandError> {
    let request = client
        .post(endpoint)
        .header("X-Amz-Target", format!("AWSStepFunctions.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .body(body.to_string());
    let response = send_signed(client, request, "states")
        .await
        .map_err(|e| CommandError::Invalid(format!("{endpoint}: {operation}: {e}")))?;
    let ok = response.status().is_success();
    let value: Value = response
        .json()
        .await
        .map_err(|e| CommandError::Invalid(format!("{endpoint}: {operation}: {e}")))?;
    if ok {
        return Ok(Ok(value));
    }
    let kind = value["__type"].as_str().unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or(kind).to_string();
    Ok(Err((
        kind,
        value["message"].as_str().unwrap_or_default().to_string(),
    )))
}

/// Sends `request` signed (SigV4, as the AWS CLI signs) for `service` with the credentials of
/// the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) in the
/// region of `AWS_REGION` or `AWS_DEFAULT_REGION` (default us-east-1): a `serve --auth`
/// demands it, any other serve ignores it. Without credentials it goes unsigned.
async fn send_signed(
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    service: &str,
) -> Result<reqwest::Response, String> {
    let mut request = request.build().map_err(|e| e.to_string())?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let identity =
            Credentials::new(key, secret, env("AWS_SESSION_TOKEN"), None, "environment").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .collect();
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or(&[]);
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        let (added, _) = instructions.into_parts();
        for header in added {
            let name = reqwest::header::HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|e| format!("signing: {e}"))?;
            let value = reqwest::header::HeaderValue::from_str(header.value())
                .map_err(|e| format!("signing: {e}"))?;
            request.headers_mut().insert(name, value);
        }
    }
    client.execute(request).await.map_err(|e| e.to_string())
}

fn ms_of(v: &Value) -> Option<i64> {
    v.as_f64().map(|s| (s * 1000.0).round() as i64)
}

async fn through_endpoint(
    endpoint: &str,
    request: &Request,
    from: i64,
    to: i64,
) -> Result<Value, CommandError> {
    if to < from {
        return Err(CommandError::Invalid(
            "--to must not be before --from".into(),
        ));
    }
    let endpoint = endpoint.trim_end_matches('/');
    let client = reqwest::Client::new();
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !plain(&request.schedule) || !plain(&request.group) {
        return Err(CommandError::Invalid(
            "a schedule's and a group's names are 1 to 64 of [0-9a-zA-Z-_.]".into(),
        ));
    }
    let url = format!(
        "{endpoint}/schedules/{}?groupName={}",
        request.schedule, request.group
    );
    let response = send_signed(&client, client.get(&url), "scheduler")
        .await
        .map_err(|e| CommandError::Invalid(format!("{url}: {e}")))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| CommandError::Invalid(format!("{url}: {e}")))?;
    if !status.is_success() {
        let message = body["Message"].as_str().or(body["message"].as_str());
        return Err(CommandError::Invalid(
            message.map_or_else(|| format!("{url}: {status}"), str::to_string),
        ));
    }
    let text = |name: &str| body[name].as_str().map(str::to_string);
    let expression = text("ScheduleExpression")
        .ok_or_else(|| CommandError::Invalid(format!("{url}: no ScheduleExpression")))?;
    let schedule = Schedule::new(
        &expression,
        text("ScheduleExpressionTimezone").as_deref(),
        ms_of(&body["StartDate"]),
        ms_of(&body["EndDate"]),
        ms_of(&body["CreationDate"]).unwrap_or(0),
    )
    .map_err(|e| CommandError::Invalid(e.to_string()))?;
    let target = body["Target"]["Arn"]
        .as_str()
        .ok_or_else(|| CommandError::Invalid(format!("{url}: no Target.Arn")))?;
    let input = body["Target"]["Input"].as_str();
    let machine = arn::split_machine(target).map(|(machine, _)| machine);
    let schedule_arn = text("Arn").unwrap_or_default();
    let slots = schedule.slots(from - 1, to, BACKFILL_MAX_SLOTS + 1);
    if slots.len() > BACKFILL_MAX_SLOTS {
        return Err(CommandError::Invalid(format!(
            "the range holds more than {BACKFILL_MAX_SLOTS} slots: backfill it in parts"
        )));
    }
    let (mut started, mut existing) = (0usize, 0usize);
    let mut running: Vec<String> = Vec::new();
    for &at in &slots {
        while request.max_concurrency > 0 && running.len() >= request.max_concurrency {
            let mut still = Vec::new();
            for arn in running.drain(..) {
                let described = sfn(
                    &client,
                    endpoint,
                    "DescribeExecution",
                    json!({"executionArn": arn}),
                )
                .await?;
                if described.as_ref().is_ok_and(|d| d["status"] == "RUNNING") {
                    still.push(arn);
                }
            }
            running = still;
            if running.len() >= request.max_concurrency {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let name = slot::execution_name(&request.group, &request.schedule, at);
        // StartExecution answers a running execution of the same name and input as if it
        // started it: ask first, so that a slot backfilled (or fired) before counts as existing.
        if let Some(machine) = machine {
            let execution = json!({"executionArn": arn::execution(machine, &name)});
            if sfn(&client, endpoint, "DescribeExecution", execution)
                .await?
                .is_ok()
            {
                existing += 1;
                continue;
            }
        }
        let body = json!({
            "stateMachineArn": target,
            "name": name,
            "input": slot::slot_input(input, at, &schedule_arn, &name, 1),
        });
        match sfn(&client, endpoint, "StartExecution", body).await? {
            Ok(answer) => {
                started += 1;
                if let Some(arn) = answer["executionArn"].as_str() {
                    running.push(arn.to_string());
                }
            }
            Err((kind, _)) if kind == "ExecutionAlreadyExists" => existing += 1,
            Err((kind, message)) => {
                return Err(CommandError::Invalid(format!(
                    "StartExecution of slot {}: {kind}: {message}",
                    slot::scheduled_time(at)
                )))
            }
        }
    }
    Ok(json!({"slots": slots.len(), "started": started, "existing": existing}))
}
