//! The HTTP task invoker: one client, OAuth tokens fetched and cached per connection, and
//! one call from request to answer.

use super::*;

/// A cached OAuth access token.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) access_token: String,
    /// When the token expires; `None` if the endpoint gave no `expires_in`.
    pub(super) expires_at: Option<Instant>,
}

impl Token {
    pub(super) fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| at > Instant::now() + TOKEN_REFRESH_MARGIN)
    }
}

/// One token slot per connection; its async lock makes concurrent tasks share one request.
pub(super) type TokenSlot = Arc<tokio::sync::Mutex<Option<Token>>>;

pub(super) struct Inner {
    /// Built at the first HTTP Task: a client loads the system's root certificates, which a
    /// run without HTTP Tasks need not wait for.
    client: std::sync::OnceLock<reqwest::Client>,
    pub(super) connections: Connections,
    pub(super) tokens: Mutex<HashMap<String, TokenSlot>>,
}

impl Inner {
    /// The HTTP client, built on first use.
    pub(super) fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                // A redirect is another endpoint: it would carry the connection's credentials
                // there.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the HTTP client builds: its TLS backend is compiled in")
        })
    }
}

/// Runs HTTP Tasks: an HTTP client, the connections and their OAuth tokens.
#[derive(Clone)]
pub struct HttpTasks {
    inner: Arc<Inner>,
    socket_timeout: Duration,
}

impl HttpTasks {
    /// An invoker calling through `connections`.
    pub fn new(connections: Connections) -> Self {
        HttpTasks {
            inner: Arc::new(Inner {
                client: std::sync::OnceLock::new(),
                connections,
                tokens: Mutex::new(HashMap::new()),
            }),
            socket_timeout: SOCKET_TIMEOUT,
        }
    }

    /// The same invoker with another limit for one request than AWS's 60 seconds
    /// ([`SOCKET_TIMEOUT`]); past it the task fails with `States.Http.Socket`.
    pub fn with_socket_timeout(mut self, limit: Duration) -> Self {
        self.socket_timeout = limit;
        self
    }

    /// Runs one `arn:aws:states:::http:invoke` task with its resolved Parameters/Arguments.
    ///
    /// `idempotency_key` is sent as the header `X-Stepfn-Idempotency-Key`; `timeout` bounds the
    /// call (token request included), after which the task fails with `States.Timeout`.
    pub fn invoke(
        &self,
        params: Value,
        idempotency_key: String,
        timeout: Option<Duration>,
    ) -> TaskFuture {
        let inner = Arc::clone(&self.inner);
        let socket_timeout = self.socket_timeout;
        Box::pin(async move {
            let call = inner.call(&params, &idempotency_key, socket_timeout);
            match timeout {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .unwrap_or_else(|_| Err(StatesError::new(error::TIMEOUT, "Task timed out."))),
                None => call.await,
            }
        })
    }
}

impl Inner {
    pub(super) async fn call(
        &self,
        params: &Value,
        idempotency_key: &str,
        socket_timeout: Duration,
    ) -> Result<Value, StatesError> {
        let task = TaskParameters::parse(params)?;
        let connection = self.connections.get(&task.connection_arn).ok_or_else(|| {
            StatesError::new(
                CONNECTION_NOT_FOUND,
                format!(
                    "no connection {:?}: the HTTP Task's ConnectionArn must name a connection of the connections file",
                    task.connection_arn
                ),
            )
        })?;
        let mut request = task.build(&connection, idempotency_key)?;
        let oauth = match (
            connection.authorization_type,
            &connection.auth_parameters.oauth_parameters,
        ) {
            (AuthorizationType::OAuthClientCredentials, Some(oauth)) => Some(oauth),
            _ => None,
        };
        if let Some(oauth) = oauth {
            let token = self
                .bearer_token(
                    &task.connection_arn,
                    oauth,
                    &request.user_agent,
                    socket_timeout,
                )
                .await?;
            request.headers.insert(
                reqwest::header::AUTHORIZATION,
                header_value(&format!("Bearer {token}"))?,
            );
        }
        let shown = request.shown_url();
        let builder = self
            .client()
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        let builder = match request.body.take() {
            Some(body) => builder.body(body),
            None => builder,
        };
        let answer = tokio::time::timeout(socket_timeout, async {
            let response = builder.send().await.map_err(|e| socket_error(&shown, &e))?;
            read_response(response, &shown).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(StatesError::new(
                HTTP_SOCKET,
                format!(
                    "the request to {shown} took longer than {} seconds",
                    socket_timeout.as_secs_f64()
                ),
            ))
        })?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.result);
        }
        if oauth.is_some() && matches!(answer.status, 401 | 407) {
            // EventBridge refreshes OAuth tokens "when a 401 or 407 response is returned".
            self.drop_token(&task.connection_arn).await;
        }
        Err(StatesError::new(
            format!("{HTTP_STATUS_CODE_PREFIX}{}", answer.status),
            answer.result.to_string(),
        ))
    }

    pub(super) fn token_slot(&self, arn: &str) -> TokenSlot {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(tokens.entry(arn.to_string()).or_default())
    }

    pub(super) async fn drop_token(&self, arn: &str) {
        *self.token_slot(arn).lock().await = None;
    }

    /// The cached token of the connection, or a new one from its authorization endpoint.
    pub(super) async fn bearer_token(
        &self,
        arn: &str,
        oauth: &OAuth,
        user_agent: &str,
        socket_timeout: Duration,
    ) -> Result<String, StatesError> {
        let slot = self.token_slot(arn);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.access_token.clone());
        }
        let token =
            tokio::time::timeout(socket_timeout, self.request_token(arn, oauth, user_agent))
                .await
                .unwrap_or_else(|_| {
                    Err(StatesError::new(
                        CONNECTION_INVALID_STATE,
                        format!(
                    "the OAuth token request of connection {arn:?} took longer than {} seconds",
                    socket_timeout.as_secs_f64()
                ),
                    ))
                })?;
        let access_token = token.access_token.clone();
        *cached = Some(token);
        Ok(access_token)
    }

    pub(super) async fn request_token(
        &self,
        arn: &str,
        oauth: &OAuth,
        user_agent: &str,
    ) -> Result<Token, StatesError> {
        let failed = |why: String| {
            StatesError::new(
                CONNECTION_INVALID_STATE,
                format!("the OAuth token request of connection {arn:?} failed: {why}"),
            )
        };
        let mut url = Url::parse(&oauth.authorization_endpoint)
            .map_err(|e| failed(format!("bad AuthorizationEndpoint: {e}")))?;
        let shown = shown_url(&url);
        let none = HttpParameters::default();
        let extra = oauth.oauth_http_parameters.as_ref().unwrap_or(&none);
        let mut query: Vec<(String, String)> = Vec::new();
        for p in &extra.query_string_parameters {
            query.push((p.key.clone(), percent_encode(&p.value)));
        }
        let mut form: Vec<(String, String)> =
            vec![("grant_type".into(), "client_credentials".into())];
        for p in &extra.body_parameters {
            form.retain(|(k, _)| k != &p.key);
            form.push((p.key.clone(), p.value.clone()));
        }
        let method = oauth.http_method.as_method();
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k, percent_encode(&v)))
            .collect();
        let body = if method == Method::GET {
            // A GET carries no body: the form goes in the query.
            query.extend(form);
            None
        } else {
            Some(join_pairs(&form))
        };
        append_query(&mut url, &query);
        let mut headers = HeaderMap::new();
        for p in &extra.header_parameters {
            let (name, value) = (header_name(&p.key)?, header_value(&p.value)?);
            headers.insert(name, value);
        }
        let credentials = format!(
            "{}:{}",
            oauth.client_parameters.client_id, oauth.client_parameters.client_secret
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert(
            reqwest::header::AUTHORIZATION,
            header_value(&format!("Basic {basic}"))?,
        );
        headers.insert(reqwest::header::USER_AGENT, header_value(user_agent)?);
        headers
            .entry(reqwest::header::ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        let mut builder = self.client().request(method, url).headers(headers);
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
                .body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| failed(format!("{shown}: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(format!("{shown}: {}", error_chain(&e))))?;
        if !status.is_success() {
            return Err(failed(format!("{shown} answered {status}")));
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| failed(format!("{shown} did not answer JSON")))?;
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed(format!("{shown} answered no access_token")))?
            .to_string();
        let expires_in = match answer.get("expires_in") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let expires_at = expires_in
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Instant::now() + Duration::from_secs_f64(s.min(1.0e9)));
        Ok(Token {
            access_token,
            expires_at,
        })
    }
}
