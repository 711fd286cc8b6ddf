//! Server hygiene of `stepfn serve`: idle and slow connections are closed after the header
//! timeout, connections over `--max-connections` wait until a slot frees, and cross-site
//! requests (another `Origin`, another `Host`) are refused with a 403 that starts nothing, and
//! SIGTERM does not wait for idle connections.
//! Raw TCP, so that the tests control every byte and header a client sends.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::serve::Server;

fn stepfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepfn"));
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    c
}

/// `host:port` of an `http://host:port` endpoint.
fn authority(server: &Server) -> &str {
    server
        .endpoint
        .strip_prefix("http://")
        .expect("an http endpoint")
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(authority(server)).expect("connect")
}

/// An API request (`Connection: close`) with `headers` beside the protocol's own.
fn request(host: &str, operation: &str, body: &Value, headers: &[(&str, &str)]) -> String {
    let body = body.to_string();
    let mut text = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&body);
    text
}

/// Sends `text` on a new connection and reads the whole answer: (status, body as JSON).
fn exchange(server: &Server, text: &str) -> (u16, Value) {
    let mut stream = connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(text.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    parse_answer(&answer)
}

fn parse_answer(answer: &str) -> (u16, Value) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    (status, body)
}

/// Waits for the server to close `stream` (EOF or reset) and returns how long that took;
/// panics if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue, // an answer (e.g. 408) before the close
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("connection still open after {:?}", start.elapsed())
            }
            Err(_) => return start.elapsed(), // reset
        }
    }
}

#[test]
fn idle_and_slow_connections_are_closed_after_the_header_timeout() {
    let server = Server::start(stepfn(), &["--header-timeout-seconds", "1"]);
    let limit = Duration::from_secs(4);

    // Connected, sending nothing.
    let mut silent = connect(&server);
    let took = closed_within(&mut silent, limit);
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );

    // Idle after an answered request on a keep-alive connection.
    let mut kept = connect(&server);
    let list = request(authority(&server), "ListStateMachines", &json!({}), &[]);
    let list = list.replace("Connection: close\r\n", "");
    kept.write_all(list.as_bytes()).expect("send");
    kept.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = kept.read(&mut buf).expect("answer");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let took = closed_within(&mut kept, limit);
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );

    // Headers sent byte by byte, a byte every 100 ms: cut off after the timeout although bytes
    // keep coming.
    let mut slow = connect(&server);
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let start = Instant::now();
    let mut sent = 0;
    let cut = loop {
        assert!(
            start.elapsed() < limit,
            "a slow client is still connected after {:?} ({sent} bytes sent)",
            start.elapsed()
        );
        if sent < head.len() && slow.write_all(&head[sent..=sent]).is_err() {
            break start.elapsed();
        }
        sent += 1;
        match slow.read(&mut buf) {
            Ok(0) => break start.elapsed(),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break start.elapsed(),
        }
    };
    assert!(sent < head.len(), "the whole head was sent before the cut");
    assert!(cut >= Duration::from_millis(800), "cut too early: {cut:?}");
}

#[test]
fn connections_over_the_limit_wait_until_idle_ones_are_cut() {
    let server = Server::start(
        stepfn(),
        &["--max-connections", "5", "--header-timeout-seconds", "1"],
    );
    let mut idle: Vec<TcpStream> = (0..5).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(200)); // all five taken by the server

    let start = Instant::now();
    let list = request(authority(&server), "ListStateMachines", &json!({}), &[]);
    let (status, body) = exchange(&server, &list);
    let waited = start.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(body["stateMachines"].is_array(), "{body}");
    // Served only once a slot freed: the five held every one until their timeout.
    assert!(
        waited >= Duration::from_millis(500),
        "the sixth client was served at once ({waited:?}): the limit did not hold"
    );
    for stream in &mut idle {
        closed_within(stream, Duration::from_secs(4));
    }
}

#[test]
fn cross_site_requests_are_refused_and_start_nothing() {
    let server = Server::start(stepfn(), &[]);
    let host = authority(&server).to_string();
    let machine = server.api(
        "CreateStateMachine",
        json!({"name": "hygiene", "roleArn": "arn:aws:iam::111111111111:role/r",
               "definition": json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()}),
    )["stateMachineArn"]
        .as_str()
        .expect("machine")
        .to_string();
    let start = json!({"stateMachineArn": machine});
    let executions = || {
        server.api("ListExecutions", json!({"stateMachineArn": machine}))["executions"]
            .as_array()
            .expect("executions")
            .len()
    };

    let evil = request(
        &host,
        "StartExecution",
        &start,
        &[("Origin", "http://evil.example")],
    );
    let (status, body) = exchange(&server, &evil);
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["__type"], "com.amazon.coral.service#AccessDeniedException",
        "{body}"
    );
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("http://evil.example"), "{message}");
    assert_eq!(executions(), 0, "a refused request started an execution");

    // Another port of the same host is another origin.
    let other_port = request(
        &host,
        "StartExecution",
        &start,
        &[("Origin", "http://127.0.0.1:1")],
    );
    assert_eq!(exchange(&server, &other_port).0, 403);
    assert_eq!(executions(), 0);

    // DNS rebinding: a name that is not this server, even without an Origin.
    let rebound = request("evil.example:8083", "StartExecution", &start, &[]);
    let (status, body) = exchange(&server, &rebound);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("evil.example"),
        "{body}"
    );
    let console = "GET /console/app.js HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(&server, console).0, 403);
    assert_eq!(executions(), 0);

    // The server's own origin, and no origin (SDKs, the CLI), work.
    let own_origin = format!("http://{host}");
    for headers in [vec![("Origin", own_origin.as_str())], vec![]] {
        let (status, body) = exchange(&server, &request(&host, "StartExecution", &start, &headers));
        assert_eq!(status, 200, "{headers:?}: {body}");
        assert!(body["executionArn"].is_string(), "{body}");
    }
    let port = host.rsplit_once(':').expect("port").1;
    let localhost = format!("localhost:{port}");
    let origin = format!("http://{localhost}");
    let (status, body) = exchange(
        &server,
        &request(&localhost, "StartExecution", &start, &[("Origin", &origin)]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(executions(), 3);
}

#[test]
fn a_body_sent_too_slowly_is_cut_off_after_the_body_timeout() {
    let server = Server::start(stepfn(), &["--body-timeout-seconds", "1"]);
    let mut stream = connect(&server);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n\
         Content-Length: 100\r\n\r\n{{",
        authority(&server)
    );
    stream.write_all(head.as_bytes()).expect("send");
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(4)))
        .expect("timeout");
    let mut answer = String::new();
    match stream.read_to_string(&mut answer) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("no answer {:?} after a stalled body", start.elapsed())
        }
        Err(e) => panic!("connection reset without an answer: {e}"),
    }
    let took = start.elapsed();
    let (status, body) = parse_answer(&answer);
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("cannot read the request body"),
        "{message}"
    );
    assert!(
        took >= Duration::from_millis(800),
        "cut too early: {took:?}"
    );
}

#[test]
fn sigterm_does_not_wait_for_idle_connections() {
    let mut child = stepfn()
        .args(["serve", "--port", "0", "--header-timeout-seconds", "30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("stepfn serve starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("serve prints its endpoint");
    let endpoint: Value = serde_json::from_str(&line).expect("endpoint line");
    let endpoint = endpoint["endpoint"].as_str().expect("endpoint");
    let _idle = TcpStream::connect(endpoint.trim_start_matches("http://")).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status}");
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("serve still running 10 s after SIGTERM with an idle connection open");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
