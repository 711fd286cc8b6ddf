use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;

use super::*;

const ARN: &str = "arn:aws:events:us-east-1:123456789012:connection/Test/0001";
const LONG: Option<Duration> = Some(Duration::from_secs(20));

/// What the test server saw of token requests.
#[derive(Default)]
struct Seen {
    token_requests: AtomicUsize,
    last_token_request: Mutex<Value>,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
}

impl Server {
    /// An axum server on a free port of 127.0.0.1; it stops with the test's runtime.
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let seen = Arc::new(Seen::default());
        let state = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |request: Request| {
            let seen = Arc::clone(&state);
            async move { route(&seen, request).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { url, seen }
    }

    /// Parameters calling `path` with `method` through the test connection.
    fn params(&self, path: &str, method: &str) -> Value {
        json!({
            "ApiEndpoint": format!("{}{path}", self.url),
            "Method": method,
            "Authentication": {"ConnectionArn": ARN},
        })
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body.into()))
        .expect("a valid test response")
}

/// The test API. `/echo` answers the request it got as JSON: method, path, raw query,
/// headers (repeated ones joined by ", ") and raw body.
async fn route(seen: &Seen, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("read the request body");
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ASCII header"))
            .collect();
        headers.insert(name.as_str().to_string(), json!(values.join(", ")));
    }
    let echo = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "body": String::from_utf8_lossy(&bytes),
    });
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match parts.uri.path() {
        "/echo" => respond(200, "application/json", echo.to_string()),
        "/created" => respond(201, "application/json", echo.to_string()),
        "/text" => respond(200, "text/plain; charset=utf-8", "plain words"),
        "/missing" => respond(404, "application/json", r#"{"message":"no such thing"}"#),
        "/broken" => respond(500, "text/plain", "it broke"),
        "/image" => respond(200, "image/png", "not really a picture"),
        "/huge" => respond(200, "text/plain", "x".repeat(300 * 1024)),
        "/binary" => Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::from(vec![0xff, 0xfe, 0x00]))
            .expect("a valid test response"),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            respond(200, "text/plain", "too late")
        }
        "/token" => {
            let n = seen.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
            *seen.last_token_request.lock().expect("lock") = echo;
            let token = json!({
                "access_token": format!("token-{n}"),
                "token_type": "Bearer",
                "expires_in": 3600,
            });
            respond(200, "application/json", token.to_string())
        }
        "/protected" if authorization.starts_with("Bearer token-") => {
            respond(200, "application/json", echo.to_string())
        }
        "/unauthorized" | "/protected" => {
            respond(401, "application/json", r#"{"message":"who are you"}"#)
        }
        _ => respond(404, "text/plain", "no route"),
    }
}

fn connections_of(connection: Value) -> Connections {
    Connections::from_value(&json!({ ARN: connection })).expect("valid connections")
}

fn api_key() -> Value {
    json!({
        "AuthorizationType": "API_KEY",
        "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "X-Api-Key", "ApiKeyValue": "secret-key"}
        }
    })
}

fn tasks_with(connection: Value) -> HttpTasks {
    HttpTasks::new(connections_of(connection))
}

async fn invoke(tasks: &HttpTasks, params: Value) -> Result<Value, StatesError> {
    tasks.invoke(params, "key-1".to_string(), LONG).await
}

/// The request the echo endpoint saw.
fn echoed(result: &Value) -> &Value {
    &result["ResponseBody"]
}

#[tokio::test]
async fn get_sends_query_parameters_headers_and_the_step_functions_headers() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let mut params = server.params("/echo?fixed=1", "GET");
    params["Headers"] = json!({"X-Custom": "v1", "X-Multi": ["a", "b"], "X-Number": 7});
    params["QueryParameters"] = json!({"currency": "usd", "tag": ["x", "y z"], "n": 5});
    let result = invoke(&tasks, params).await.expect("the call succeeds");

    assert_eq!(result["StatusCode"], json!(200));
    assert_eq!(result["StatusText"], json!("OK"));
    let seen = echoed(&result);
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/echo");
    assert_eq!(seen["query"], "fixed=1&currency=usd&tag=x&tag=y%20z&n=5");
    let headers = &seen["headers"];
    assert_eq!(headers["x-custom"], "v1");
    assert_eq!(headers["x-multi"], "a, b");
    assert_eq!(headers["x-number"], "7");
    assert_eq!(
        headers["user-agent"],
        "Amazon|StepFunctions|HttpInvoke|us-east-1"
    );
    assert_eq!(headers["range"], "bytes=0-262144");
    assert_eq!(headers["x-stepfn-idempotency-key"], "key-1");
    assert_eq!(headers["x-api-key"], "secret-key");
    assert_eq!(headers.get("content-type"), None, "a request without body");
    assert_eq!(seen["body"], "");
}

#[tokio::test]
async fn post_sends_the_request_body_as_json() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let mut params = server.params("/echo", "POST");
    params["RequestBody"] = json!({"a": 1, "b": [true, null], "c": "x"});
    let result = invoke(&tasks, params.clone())
        .await
        .expect("the call succeeds");
    let seen = echoed(&result);
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body"], r#"{"a":1,"b":[true,null],"c":"x"}"#);
    assert_eq!(seen["headers"]["content-type"], JSON_CONTENT_TYPE);

    // A content type of the definition is kept.
    params["Headers"] = json!({"Content-Type": "application/vnd.test+json"});
    let result = invoke(&tasks, params).await.expect("the call succeeds");
    assert_eq!(
        echoed(&result)["headers"]["content-type"],
        "application/vnd.test+json"
    );
}

#[tokio::test]
async fn url_encoded_body_writes_each_array_format() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let cases = [
        (
            None,
            "array%5B0%5D=a&array%5B1%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
        ),
        (
            Some("INDICES"),
            "array%5B0%5D=a&array%5B1%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
        ),
        (Some("REPEAT"), "array=a&array=b%20c&meta%5Bk%5D=v%2Fw&n=1"),
        (Some("COMMAS"), "array=a,b%20c&meta%5Bk%5D=v%2Fw&n=1"),
        (
            Some("BRACKETS"),
            "array%5B%5D=a&array%5B%5D=b%20c&meta%5Bk%5D=v%2Fw&n=1",
        ),
    ];
    for (format, expected) in cases {
        let mut params = server.params("/echo", "POST");
        params["RequestBody"] = json!({"array": ["a", "b c"], "meta": {"k": "v/w"}, "n": 1});
        params["Transform"] = match format {
            None => json!({"RequestBodyEncoding": "URL_ENCODED"}),
            Some(f) => json!({
                "RequestBodyEncoding": "URL_ENCODED",
                "RequestEncodingOptions": {"ArrayFormat": f},
            }),
        };
        let result = invoke(&tasks, params).await.expect("the call succeeds");
        let seen = echoed(&result);
        assert_eq!(seen["body"], expected, "ArrayFormat {format:?}");
        assert_eq!(seen["headers"]["content-type"], FORM_CONTENT_TYPE);
    }
}

#[tokio::test]
async fn not_found_fails_with_its_status_code_and_the_response_as_cause() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let err = invoke(&tasks, server.params("/missing", "GET"))
        .await
        .expect_err("a 404 fails the task");
    assert_eq!(err.error, "States.Http.StatusCode.404");
    let cause: Value =
        serde_json::from_str(err.cause.as_deref().expect("a cause")).expect("a JSON cause");
    assert_eq!(cause["StatusCode"], json!(404));
    assert_eq!(cause["StatusText"], json!("Not Found"));
    assert_eq!(cause["ResponseBody"], json!({"message": "no such thing"}));
    assert_eq!(
        cause["Headers"]["content-type"],
        json!(["application/json"])
    );
}

#[tokio::test]
async fn server_error_fails_with_status_code_500() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let err = invoke(&tasks, server.params("/broken", "DELETE"))
        .await
        .expect_err("a 500 fails the task");
    assert_eq!(err.error, "States.Http.StatusCode.500");
    let cause: Value =
        serde_json::from_str(err.cause.as_deref().expect("a cause")).expect("a JSON cause");
    assert_eq!(cause["StatusCode"], json!(500));
    assert_eq!(cause["StatusText"], json!("Internal Server Error"));
    assert_eq!(cause["ResponseBody"], json!("it broke"));
}

#[tokio::test]
async fn response_bodies_are_json_for_json_content_types_and_strings_otherwise() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let json_result = invoke(&tasks, server.params("/created", "PUT"))
        .await
        .expect("a 201 succeeds");
    assert_eq!(json_result["StatusCode"], json!(201));
    assert_eq!(json_result["StatusText"], json!("Created"));
    assert_eq!(json_result["ResponseBody"]["method"], json!("PUT"));

    let text = invoke(&tasks, server.params("/text", "GET"))
        .await
        .expect("the call succeeds");
    assert_eq!(text["ResponseBody"], json!("plain words"));
    assert_eq!(
        text["Headers"]["content-type"],
        json!(["text/plain; charset=utf-8"])
    );
    assert_eq!(text["Headers"]["content-length"], json!(["11"]));
    let keys: Vec<&String> = text.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    );
}

#[tokio::test]
async fn unreadable_responses_fail_with_runtime_errors() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let err = invoke(&tasks, server.params("/image", "GET"))
        .await
        .expect_err("an image fails");
    assert_eq!(
        err,
        StatesError::runtime(format!(
            "the response of {}/image has content type image/png, which an HTTP Task cannot read",
            server.url
        ))
    );
    let err = invoke(&tasks, server.params("/binary", "GET"))
        .await
        .expect_err("binary data fails");
    assert_eq!(
        err,
        StatesError::runtime(format!(
            "the response body of {}/binary is not UTF-8 text, which an HTTP Task cannot read",
            server.url
        ))
    );
}

#[tokio::test]
async fn response_over_256_kib_fails_with_data_limit_exceeded() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let err = invoke(&tasks, server.params("/huge", "GET"))
        .await
        .expect_err("too large");
    assert_eq!(
        err,
        StatesError::new(
            error::DATA_LIMIT_EXCEEDED,
            format!(
                "the response body of {}/huge is larger than 256 KiB",
                server.url
            )
        )
    );
}

#[tokio::test]
async fn refused_connection_fails_with_socket_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    let tasks = tasks_with(api_key());
    let params = json!({
        "ApiEndpoint": format!("http://{address}/gone?secret=1"),
        "Method": "GET",
        "Authentication": {"ConnectionArn": ARN},
    });
    let err = invoke(&tasks, params).await.expect_err("nobody listens");
    assert_eq!(err.error, HTTP_SOCKET);
    let cause = err.cause.expect("a cause");
    assert!(
        cause.starts_with(&format!("the request to http://{address}/gone failed: ")),
        "{cause}"
    );
    assert!(cause.contains("refused"), "{cause}");
    assert!(
        !cause.contains("secret"),
        "the query stays out of causes: {cause}"
    );
}

#[tokio::test]
async fn slow_answer_past_the_timeout_fails_with_states_timeout() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let started = Instant::now();
    let err = tasks
        .invoke(
            server.params("/slow", "GET"),
            "key-1".to_string(),
            Some(Duration::from_millis(200)),
        )
        .await
        .expect_err("the answer comes too late");
    assert_eq!(err, StatesError::new(error::TIMEOUT, "Task timed out."));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn slow_answer_past_the_socket_limit_fails_with_socket_error() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key()).with_socket_timeout(Duration::from_millis(200));
    let err = tasks
        .invoke(server.params("/slow", "GET"), "key-1".to_string(), None)
        .await
        .expect_err("the answer comes too late");
    assert_eq!(
        err,
        StatesError::new(
            HTTP_SOCKET,
            format!(
                "the request to {}/slow took longer than 0.2 seconds",
                server.url
            )
        )
    );
}

#[tokio::test]
async fn basic_connection_sends_basic_authorization() {
    let server = Server::start().await;
    let tasks = tasks_with(json!({
        "AuthorizationType": "BASIC",
        "AuthParameters": {"BasicAuthParameters": {"Username": "user", "Password": "pa:ss"}}
    }));
    // InvocationConfig names the connection as well as Authentication does.
    let params = json!({
        "ApiEndpoint": format!("{}/echo", server.url),
        "Method": "GET",
        "InvocationConfig": {"ConnectionArn": ARN},
    });
    let result = invoke(&tasks, params).await.expect("the call succeeds");
    let expected = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
    assert_eq!(
        echoed(&result)["headers"]["authorization"],
        format!("Basic {expected}")
    );
}

fn oauth(server: &Server) -> Value {
    json!({
        "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
        "AuthParameters": {
            "OAuthParameters": {
                "AuthorizationEndpoint": format!("{}/token", server.url),
                "HttpMethod": "POST",
                "ClientParameters": {"ClientID": "client", "ClientSecret": "s3cret"},
                "OAuthHttpParameters": {
                    "HeaderParameters": [{"Key": "X-Tenant", "Value": "t1", "IsValueSecret": false}],
                    "QueryStringParameters": [{"Key": "realm", "Value": "r 1"}],
                    "BodyParameters": [{"Key": "audience", "Value": "https://api", "IsValueSecret": true}]
                }
            }
        }
    })
}

#[tokio::test]
async fn oauth_token_is_requested_once_and_reused() {
    let server = Server::start().await;
    let tasks = tasks_with(oauth(&server));
    for _ in 0..2 {
        let result = invoke(&tasks, server.params("/protected", "GET"))
            .await
            .expect("the call succeeds");
        assert_eq!(
            echoed(&result)["headers"]["authorization"],
            "Bearer token-1"
        );
    }
    assert_eq!(server.seen.token_requests.load(Ordering::SeqCst), 1);
    let token_request = server.seen.last_token_request.lock().expect("lock").clone();
    let client = base64::engine::general_purpose::STANDARD.encode("client:s3cret");
    assert_eq!(token_request["method"], "POST");
    assert_eq!(token_request["query"], "realm=r%201");
    assert_eq!(
        token_request["body"],
        "grant_type=client_credentials&audience=https%3A%2F%2Fapi"
    );
    let headers = &token_request["headers"];
    assert_eq!(headers["authorization"], format!("Basic {client}"));
    assert_eq!(headers["content-type"], FORM_CONTENT_TYPE);
    assert_eq!(headers["x-tenant"], "t1");
}

#[tokio::test]
async fn oauth_token_is_dropped_after_a_401() {
    let server = Server::start().await;
    let tasks = tasks_with(oauth(&server));
    invoke(&tasks, server.params("/protected", "GET"))
        .await
        .expect("the call succeeds");
    let err = invoke(&tasks, server.params("/unauthorized", "GET"))
        .await
        .expect_err("a 401 fails the task");
    assert_eq!(err.error, "States.Http.StatusCode.401");
    let result = invoke(&tasks, server.params("/protected", "GET"))
        .await
        .expect("the call succeeds");
    assert_eq!(
        echoed(&result)["headers"]["authorization"],
        "Bearer token-2"
    );
    assert_eq!(server.seen.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failed_token_request_fails_with_invalid_connection_state() {
    let server = Server::start().await;
    let mut connection = oauth(&server);
    connection["AuthParameters"]["OAuthParameters"]["AuthorizationEndpoint"] =
        json!(format!("{}/missing", server.url));
    let tasks = tasks_with(connection);
    let err = invoke(&tasks, server.params("/protected", "GET"))
        .await
        .expect_err("no token, no call");
    assert_eq!(
        err,
        StatesError::new(
            CONNECTION_INVALID_STATE,
            format!(
                "the OAuth token request of connection \"{ARN}\" failed: {}/missing answered 404 Not Found",
                server.url
            )
        )
    );
}

#[tokio::test]
async fn invocation_http_parameters_are_added_and_win_over_the_definition() {
    let server = Server::start().await;
    let mut connection = api_key();
    connection["AuthParameters"]["InvocationHttpParameters"] = json!({
        "HeaderParameters": [
            {"Key": "Header-Param", "Value": "connection"},
            {"Key": "Extra-Header", "Value": "e"}
        ],
        "QueryStringParameters": [
            {"Key": "QueryParam", "Value": "connection"},
            {"Key": "q2", "Value": "c 2"}
        ],
        "BodyParameters": [
            {"Key": "BodyParam", "Value": "connection"},
            {"Key": "b2", "Value": "c2", "IsValueSecret": true}
        ]
    });
    let tasks = tasks_with(connection);
    let mut params = server.params("/echo", "POST");
    params["Headers"] = json!({"Header-Param": "definition", "Request-Id": "r1"});
    params["QueryParameters"] = json!({"QueryParam": "definition", "keep": "k"});
    params["RequestBody"] = json!({"Job": "x", "BodyParam": "definition"});
    let result = invoke(&tasks, params).await.expect("the call succeeds");
    let seen = echoed(&result);
    assert_eq!(seen["headers"]["header-param"], "connection");
    assert_eq!(seen["headers"]["extra-header"], "e");
    assert_eq!(seen["headers"]["request-id"], "r1");
    assert_eq!(seen["query"], "keep=k&QueryParam=connection&q2=c%202");
    assert_eq!(
        seen["body"],
        r#"{"Job":"x","BodyParam":"connection","b2":"c2"}"#
    );

    // A task without body gets the connection's body parameters alone.
    let result = invoke(&tasks, server.params("/echo", "POST"))
        .await
        .expect("the call succeeds");
    assert_eq!(
        echoed(&result)["body"],
        r#"{"BodyParam":"connection","b2":"c2"}"#
    );

    // Spec: a string RequestBody cannot be merged with connection body parameters.
    let mut params = server.params("/echo", "POST");
    params["RequestBody"] = json!("raw text");
    let err = invoke(&tasks, params)
        .await
        .expect_err("nothing to merge into");
    assert_eq!(
        err,
        StatesError::runtime(
            "RequestBody is a string, which cannot be merged with the body parameters of \
             the connection"
        )
    );
}

#[tokio::test]
async fn string_request_body_is_sent_as_is() {
    let server = Server::start().await;
    let tasks = tasks_with(api_key());
    let mut params = server.params("/echo", "POST");
    params["RequestBody"] = json!("a=1&b=2");
    params["Headers"] = json!({"Content-Type": FORM_CONTENT_TYPE});
    params["Transform"] = json!({"RequestBodyEncoding": "URL_ENCODED"});
    let result = invoke(&tasks, params).await.expect("the call succeeds");
    assert_eq!(echoed(&result)["body"], "a=1&b=2");
}

#[tokio::test]
async fn unknown_connection_arn_fails_naming_it() {
    let server = Server::start().await;
    let tasks = HttpTasks::new(Connections::default());
    let err = invoke(&tasks, server.params("/echo", "GET"))
        .await
        .expect_err("no such connection");
    assert_eq!(
        err,
        StatesError::new(
            CONNECTION_NOT_FOUND,
            format!(
                "no connection \"{ARN}\": the HTTP Task's ConnectionArn must name a \
                 connection of the connections file"
            )
        )
    );
}

#[tokio::test]
async fn malformed_parameters_fail_with_runtime_errors() {
    let tasks = tasks_with(api_key());
    let base = json!({
        "ApiEndpoint": "http://127.0.0.1:9/x",
        "Method": "GET",
        "Authentication": {"ConnectionArn": ARN},
    });
    let with = |field: &str, value: Value| {
        let mut p = base.clone();
        p[field] = value;
        p
    };
    let without = |field: &str| {
        let mut p = base.clone();
        p.as_object_mut().expect("an object").remove(field);
        p
    };
    let cases = [
        (
            without("Authentication"),
            "the HTTP Task parameters need Authentication.ConnectionArn (or \
             InvocationConfig.ConnectionArn): Step Functions calls HTTPS APIs only through \
             an EventBridge connection"
                .to_string(),
        ),
        (
            without("ApiEndpoint"),
            "the HTTP Task parameters need ApiEndpoint".to_string(),
        ),
        (
            with("ApiEndpoint", json!("ftp://example.com/x")),
            "ApiEndpoint \"ftp://example.com/x\" is not an http(s) URL".to_string(),
        ),
        (
            with("Method", json!("FETCH")),
            "Method must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD, not \"FETCH\""
                .to_string(),
        ),
        (
            with("Headers", json!({"Authorization": "Bearer mine"})),
            "the header \"Authorization\" cannot be set in an HTTP Task".to_string(),
        ),
        (
            with("Headers", json!({"X-Amz-Date": "today"})),
            "the header \"X-Amz-Date\" cannot be set in an HTTP Task".to_string(),
        ),
        (
            with("Headers", json!({"X-Obj": {"a": 1}})),
            "the value of header \"X-Obj\" must be a string, a number, a boolean or an \
             array of them"
                .to_string(),
        ),
        (
            with("Transform", json!({"RequestBodyEncoding": "GZIP"})),
            "Transform.RequestBodyEncoding must be NONE or URL_ENCODED, not \"GZIP\"".to_string(),
        ),
        (
            with(
                "Transform",
                json!({"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "SPACES"}}),
            ),
            "Transform.RequestEncodingOptions.ArrayFormat must be INDICES, REPEAT, COMMAS \
             or BRACKETS, not \"SPACES\""
                .to_string(),
        ),
        (
            with("Body", json!({})),
            format!(
                "the HTTP Task parameters have an unknown field \"Body\"; the fields are {}",
                FIELDS.join(", ")
            ),
        ),
    ];
    for (params, cause) in cases {
        let err = invoke(&tasks, params)
            .await
            .expect_err("malformed parameters");
        assert_eq!(err, StatesError::runtime(cause));
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("stepfn-http-{}-{name}.json", std::process::id()));
    std::fs::write(&path, text).expect("write a temporary file");
    path
}

#[test]
fn connections_file_errors_name_the_file_and_json_pointer() {
    let path = temp_file(
        "bad-type",
        &json!({ ARN: {"AuthorizationType": "TOKEN", "AuthParameters": {}} }).to_string(),
    );
    let err = Connections::from_file(&path).expect_err("an unknown type");
    assert_eq!(
        err.to_string(),
        format!(
            "connections file {}: invalid at \
             /arn:aws:events:us-east-1:123456789012:connection~1Test~10001/AuthorizationType: \
             unknown variant `TOKEN`, expected one of `API_KEY`, `BASIC`, \
             `OAUTH_CLIENT_CREDENTIALS`",
            path.display()
        )
    );
    let _ = std::fs::remove_file(&path);

    let path = temp_file("not-json", "{\"arn\": ");
    let err = Connections::from_file(&path).expect_err("not JSON");
    assert_eq!(
        err.to_string(),
        format!(
            "connections file {} is not JSON: EOF while parsing a value at line 1 column 8",
            path.display()
        )
    );
    let _ = std::fs::remove_file(&path);

    let missing = std::env::temp_dir().join("stepfn-http-no-such-file.json");
    let err = Connections::from_file(&missing).expect_err("no file");
    assert_eq!(
        err.to_string(),
        format!("cannot read connections file {}", missing.display())
    );
}

#[test]
fn connection_errors_name_their_json_pointer() {
    let at = "/arn:aws:events:us-east-1:123456789012:connection~1Test~10001";
    let cases = [
        (
            json!({"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "k"}}}),
            format!("{at}/AuthParameters/ApiKeyAuthParameters: missing field `ApiKeyValue`"),
        ),
        (
            json!({"AuthorizationType": "BASIC", "AuthParameters": {}}),
            format!("{at}/AuthParameters: AuthorizationType BASIC needs BasicAuthParameters"),
        ),
        (
            json!({"AuthorizationType": "BASIC", "AuthParameters": {
                "BasicAuthParameters": {"Username": "u", "Password": "p"},
                "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}}}),
            format!(
                "{at}/AuthParameters/ApiKeyAuthParameters: ApiKeyAuthParameters does not go \
                 with AuthorizationType BASIC"
            ),
        ),
        (
            json!({"AuthorizationType": "API_KEY", "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"},
                "InvocationHttpParameters": {"HeaderParameters": [
                    {"Key": "Good", "Value": "1"}, {"Key": "bad name", "Value": "2"}]}}}),
            format!(
                "{at}/AuthParameters/InvocationHttpParameters/HeaderParameters/1/Key: \
                 \"bad name\" is not a valid header name"
            ),
        ),
        (
            json!({"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
                "OAuthParameters": {"AuthorizationEndpoint": "not a url", "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": "c", "ClientSecret": "s"}}}}),
            format!(
                "{at}/AuthParameters/OAuthParameters/AuthorizationEndpoint: \"not a url\" is \
                 not an http(s) URL"
            ),
        ),
    ];
    for (connection, expected) in cases {
        let err = Connections::from_value(&json!({ ARN: connection }))
            .expect_err("a malformed connection");
        assert_eq!(
            err.to_string(),
            format!("connections: invalid at {expected}")
        );
    }
    let err = Connections::from_value(&json!([])).expect_err("not an object");
    assert_eq!(
        err.to_string(),
        "connections: invalid at the top level: invalid type: sequence, expected a map"
    );
}

#[test]
fn connections_debug_shows_no_secret() {
    let connections = connections_of(api_key());
    let shown = format!("{connections:?}");
    assert_eq!(shown, format!("Connections {{ arns: [{ARN:?}] }}"));
}
