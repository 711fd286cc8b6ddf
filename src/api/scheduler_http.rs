//! The EventBridge Scheduler API over HTTP, REST-JSON as the service speaks it (model
//! `scheduler-2021-06-30`), on the same address as the Step Functions API so that
//! `aws scheduler --endpoint-url URL` and boto3's `scheduler` client work against `stepfn serve`:
//!
//! | method | path | operation |
//! | --- | --- | --- |
//! | POST, GET, PUT, DELETE | `/schedules/{Name}` | Create, Get, Update, DeleteSchedule |
//! | GET | `/schedules` | ListSchedules |
//! | POST, GET, DELETE | `/schedule-groups/{Name}` | Create, Get, DeleteScheduleGroup |
//! | GET | `/schedule-groups` | ListScheduleGroups |
//! | POST, GET, DELETE | `/tags/{ResourceArn}` | TagResource, ListTagsForResource, UntagResource |
//!
//! The path parameter and the query parameters are merged into the request JSON under their
//! model names (`?groupName=` is `GroupName`, `?ScheduleGroup=` of ListSchedules too); what an
//! operation does is [`Service::scheduler_call_as`]. Errors carry the model's HTTP status, the
//! header `x-amzn-ErrorType` and a body `{"Message": ...}`, which the SDKs map to their modeled
//! exceptions.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::error::{ApiError, Exception};
use super::http::Caller;
use super::Service;

/// The routes of the Scheduler API, to merge in front of the Step Functions API's router.
pub fn routes(service: Arc<Service>) -> Router {
    Router::new()
        .route("/schedules", any(collection::<0>))
        .route("/schedule-groups", any(collection::<1>))
        .route("/schedules/{name}", any(item::<0>))
        .route("/schedule-groups/{name}", any(item::<1>))
        .route("/tags/{arn}", any(item::<2>))
        .with_state(service)
}

/// The operation of `method` on a collection (0 schedules, 1 groups).
fn collection_operation(which: u8, method: &Method) -> Option<&'static str> {
    match (which, method.as_str()) {
        (0, "GET") => Some("ListSchedules"),
        (1, "GET") => Some("ListScheduleGroups"),
        _ => None,
    }
}

/// The operation of `method` on an item (0 a schedule, 1 a group, 2 a group's tags) and the
/// model name of its path parameter.
fn item_operation(which: u8, method: &Method) -> Option<(&'static str, &'static str)> {
    let operation = match (which, method.as_str()) {
        (0, "POST") => "CreateSchedule",
        (0, "GET") => "GetSchedule",
        (0, "PUT") => "UpdateSchedule",
        (0, "DELETE") => "DeleteSchedule",
        (1, "POST") => "CreateScheduleGroup",
        (1, "GET") => "GetScheduleGroup",
        (1, "DELETE") => "DeleteScheduleGroup",
        (2, "POST") => "TagResource",
        (2, "GET") => "ListTagsForResource",
        (2, "DELETE") => "UntagResource",
        _ => return None,
    };
    Some((operation, if which == 2 { "ResourceArn" } else { "Name" }))
}

/// The model name of query parameter `name` of `operation`.
fn query_member(operation: &str, name: &str) -> String {
    match (operation, name) {
        ("ListSchedules", "ScheduleGroup") => "GroupName".into(),
        (_, "groupName") => "GroupName".into(),
        (_, "clientToken") => "ClientToken".into(),
        _ => name.to_string(),
    }
}

async fn collection<const WHICH: u8>(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(operation) = collection_operation(WHICH, &method) else {
        return unknown_method(&method, &uri);
    };
    run(service, operation, None, &uri, &headers, Bytes::new()).await
}

async fn item<const WHICH: u8>(
    State(service): State<Arc<Service>>,
    param: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((operation, member)) = item_operation(WHICH, &method) else {
        return unknown_method(&method, &uri);
    };
    let param = match param {
        Ok(Path(param)) => param,
        Err(rejection) => {
            let error = ApiError::new(
                Exception::ValidationException,
                format!("the path {} is not valid: {rejection}", uri.path()),
            );
            return respond_error(&error, &uuid::Uuid::new_v4().to_string());
        }
    };
    run(
        service,
        operation,
        Some((member, param)),
        &uri,
        &headers,
        body,
    )
    .await
}

/// Builds the request of `operation` from the body, the path parameter and the query, runs it,
/// and answers.
async fn run(
    service: Arc<Service>,
    operation: &'static str,
    param: Option<(&str, String)>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::debug_span!("scheduler", request_id = %request_id, operation);
    let request = match request_of(operation, param, uri, &body) {
        Ok(request) => request,
        Err(error) => return respond_error(&error, &request_id),
    };
    let caller = Caller::from_headers(headers);
    let call = tokio::spawn(
        async move { service.scheduler_call_as(operation, request, caller).await }.instrument(span),
    );
    let result = match call.await {
        Ok(result) => result,
        Err(join) => {
            tracing::error!("operation {operation} failed: {join}");
            Err(ApiError::new(
                Exception::InternalFailure,
                format!("operation {operation} failed unexpectedly"),
            ))
        }
    };
    match result {
        Ok(value) => respond(StatusCode::OK, &value, &request_id, None),
        Err(error) => respond_error(&error, &request_id),
    }
}

fn request_of(
    operation: &str,
    param: Option<(&str, String)>,
    uri: &Uri,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let mut request = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::new(
                    Exception::SerializationException,
                    "the request body must be a JSON object",
                ))
            }
            Err(e) => {
                return Err(ApiError::new(
                    Exception::SerializationException,
                    format!("request body is not valid JSON: {e}"),
                ))
            }
        }
    };
    for (name, value) in query_pairs(uri.query().unwrap_or("")) {
        let member = query_member(operation, &name);
        if member == "TagKeys" {
            let keys = request.entry(member).or_insert_with(|| json!([]));
            if let Value::Array(keys) = keys {
                keys.push(json!(value));
            }
        } else {
            request.insert(member, json!(value));
        }
    }
    if let Some((member, value)) = param {
        request.insert(member.to_string(), json!(value));
    }
    Ok(Value::Object(request))
}

/// The query's `name=value` pairs, percent-decoded (`+` is a space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The status and `x-amzn-ErrorType` of `kind`, as the Scheduler model gives them.
fn wire(kind: Exception) -> (StatusCode, &'static str) {
    match kind {
        Exception::ValidationException => (StatusCode::BAD_REQUEST, "ValidationException"),
        Exception::ResourceNotFoundException => {
            (StatusCode::NOT_FOUND, "ResourceNotFoundException")
        }
        Exception::ConflictException => (StatusCode::CONFLICT, "ConflictException"),
        Exception::ServiceQuotaExceededException => (
            StatusCode::PAYMENT_REQUIRED,
            "ServiceQuotaExceededException",
        ),
        Exception::ThrottlingException => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
        Exception::InternalFailure => {
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
        }
        Exception::UnknownOperationException => {
            (StatusCode::NOT_FOUND, "UnknownOperationException")
        }
        other => (StatusCode::BAD_REQUEST, other.name()),
    }
}

fn respond_error(error: &ApiError, request_id: &str) -> Response {
    let (status, name) = wire(error.kind);
    tracing::debug!(%status, error = %error, "scheduler api error");
    respond(
        status,
        &json!({ "Message": error.message }),
        request_id,
        Some(name),
    )
}

fn unknown_method(method: &Method, uri: &Uri) -> Response {
    let error = ApiError::new(
        Exception::UnknownOperationException,
        format!(
            "method {method} is not served on {}: the Scheduler API has no such operation",
            uri.path()
        ),
    );
    respond_error(&error, &uuid::Uuid::new_v4().to_string())
}

fn respond(status: StatusCode, value: &Value, request_id: &str, error: Option<&str>) -> Response {
    let body = serde_json::to_vec(value).expect("a serde_json::Value always serializes");
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(request_id).expect("a UUID is a valid header value"),
    );
    if let Some(name) = error {
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_str(name).expect("an exception name is a valid header value"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_take_their_model_names() {
        let uri: Uri = "/schedules?ScheduleGroup=g&NamePrefix=a%2Bb&MaxResults=5"
            .parse()
            .expect("uri");
        let request = request_of("ListSchedules", None, &uri, &Bytes::new()).expect("request");
        assert_eq!(
            request,
            json!({"GroupName": "g", "NamePrefix": "a+b", "MaxResults": "5"})
        );
        let uri: Uri = "/tags/x?TagKeys=a&TagKeys=b".parse().expect("uri");
        let request = request_of(
            "UntagResource",
            Some(("ResourceArn", "arn:x".into())),
            &uri,
            &Bytes::new(),
        )
        .expect("request");
        assert_eq!(
            request,
            json!({"TagKeys": ["a", "b"], "ResourceArn": "arn:x"})
        );
    }

    #[test]
    fn errors_take_the_scheduler_models_status() {
        assert_eq!(
            wire(Exception::ResourceNotFoundException),
            (StatusCode::NOT_FOUND, "ResourceNotFoundException")
        );
        assert_eq!(
            wire(Exception::ConflictException),
            (StatusCode::CONFLICT, "ConflictException")
        );
        assert_eq!(
            wire(Exception::InternalFailure),
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
        );
        assert_eq!(
            wire(Exception::ValidationException),
            (StatusCode::BAD_REQUEST, "ValidationException")
        );
    }

    async fn send(router: &Router, method: &str, path: &str, body: &str) -> (u16, String, Value) {
        use tower::ServiceExt as _;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("answer");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        (status, kind, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn routes_answer_rest_json_with_the_models_error_shapes() {
        let store = crate::store::AnyStore::Memory(crate::store::memory::MemoryStore::new());
        let router = routes(Arc::new(Service::with_mocks(store, None)));
        let create = r#"{"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": "arn:aws:states:us-east-1:111111111111:stateMachine:m",
                       "RoleArn": "arn:aws:iam::111111111111:role/r"}}"#;
        let (status, _, body) = send(&router, "POST", "/schedules/hourly", create).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"ScheduleArn": "arn:aws:scheduler:us-east-1:111111111111:schedule/default/hourly"})
        );
        let (status, kind, body) = send(&router, "POST", "/schedules/hourly", create).await;
        assert_eq!(
            (status, kind.as_str(), body),
            (
                409,
                "ConflictException",
                json!({"Message": "Schedule hourly already exists."})
            )
        );
        let (status, kind, body) =
            send(&router, "GET", "/schedules/other?groupName=default", "").await;
        assert_eq!(
            (status, kind.as_str(), body),
            (
                404,
                "ResourceNotFoundException",
                json!({"Message": "Schedule other does not exist."})
            )
        );
        let (status, kind, _) = send(&router, "GET", "/schedules?ScheduleGroup=nope", "").await;
        assert_eq!((status, kind.as_str()), (404, "ResourceNotFoundException"));
        let (status, _, body) = send(&router, "GET", "/schedules?MaxResults=1", "").await;
        assert_eq!(
            (status, body["Schedules"][0]["Name"].clone()),
            (200, json!("hourly"))
        );
        let arn = "arn%3Aaws%3Ascheduler%3Aus-east-1%3A111111111111%3Aschedule-group%2Fdefault";
        let (status, _, _) = send(
            &router,
            "POST",
            &format!("/tags/{arn}"),
            r#"{"Tags": [{"Key": "k", "Value": "v"}]}"#,
        )
        .await;
        assert_eq!(status, 200);
        let (_, _, body) = send(&router, "GET", &format!("/tags/{arn}"), "").await;
        assert_eq!(body, json!({"Tags": [{"Key": "k", "Value": "v"}]}));
        let (status, _, _) = send(&router, "DELETE", &format!("/tags/{arn}?TagKeys=k"), "").await;
        assert_eq!(status, 200);
        let (_, _, body) = send(&router, "GET", &format!("/tags/{arn}"), "").await;
        assert_eq!(body, json!({"Tags": []}));
        let (status, kind, _) = send(&router, "PATCH", "/schedules/hourly", "").await;
        assert_eq!((status, kind.as_str()), (404, "UnknownOperationException"));
        let (status, _, _) = send(&router, "DELETE", "/schedules/hourly", "").await;
        assert_eq!(status, 200);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let uri: Uri = "/schedules/a".parse().expect("uri");
        let error = request_of("CreateSchedule", None, &uri, &Bytes::from_static(b"[1]"))
            .expect_err("refused");
        assert_eq!(error.kind, Exception::SerializationException);
    }
}
