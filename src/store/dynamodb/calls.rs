//! Requests to DynamoDB: retrying transient failures with backoff, batch writes and
//! reads, paged queries.

use super::*;

/// Whether a failed request may succeed when sent again.
pub(super) fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // Connection failures are `io`; hyper's incomplete message is an `other` marked
        // transient (its kind type is not re-exported: compared by name). Other `other`s, such as
        // credentials that cannot be loaded, are not worth a minute of retries.
        SdkError::DispatchFailure(failure) => {
            failure.is_io()
                || failure.is_timeout()
                || failure
                    .as_other()
                    .is_some_and(|kind| format!("{kind:?}") == "TransientError")
        }
        SdkError::ServiceError(service) => {
            matches!(
                err.code(),
                Some(
                    "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                        | "TransactionInProgressException"
                        | "TransactionConflictException"
                )
            ) || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// Like [`is_transient`], and a transaction cancelled only because of a concurrent transaction
/// or throttling (not because of a condition) is tried again too.
pub(super) fn is_transient_transaction(err: &SdkError<TransactWriteItemsError>) -> bool {
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
        let codes: Vec<&str> = e
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .filter(|c| *c != "None")
            .collect();
        return !codes.is_empty()
            && codes.iter().all(|c| {
                matches!(
                    *c,
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            });
    }
    is_transient(err)
}

impl DynamoStore {
    pub(super) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Sends a request (built afresh by `attempt` each time), retrying transient failures.
    pub(super) async fn call<T, E, F, Fut>(&self, what: &str, attempt: F) -> Result<T, SdkError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
    {
        self.call_retrying(what, is_transient::<E>, attempt).await
    }

    pub(super) async fn call_retrying<T, E, F, Fut>(
        &self,
        what: &str,
        transient: fn(&SdkError<E>) -> bool,
        mut attempt: F,
    ) -> Result<T, SdkError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
    {
        let start = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 1u32;
        loop {
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            match attempt().await {
                Err(e) if transient(&e) && start.elapsed() + backoff < self.retry_window => {
                    let pause = jitter(backoff);
                    tracing::warn!(
                        table = %self.table(),
                        attempt = attempts,
                        retry_in_ms = pause.as_millis() as u64,
                        error = %DisplayErrorContext(&e),
                        "dynamodb: {what} failed; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempts += 1;
                }
                Err(e) => {
                    if transient(&e) {
                        tracing::warn!(
                            table = %self.table(),
                            attempts,
                            error = %DisplayErrorContext(&e),
                            "dynamodb: {what} failed; giving up after {:.1} s",
                            start.elapsed().as_secs_f64()
                        );
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// Writes (or deletes) items in batches of 25, several batches at once, retrying the
    /// unprocessed ones.
    pub(super) async fn batch_write(
        &self,
        what: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let mut batches = requests
            .chunks(BATCH_ITEMS)
            .map(<[WriteRequest]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter();
        let mut running = JoinSet::new();
        let spawn = |running: &mut JoinSet<_>, batch: Vec<WriteRequest>| {
            let store = self.clone();
            let what = what.to_string();
            running.spawn(
                async move { store.write_batch(&what, batch).await }
                    .instrument(tracing::Span::current()),
            );
        };
        for batch in batches.by_ref().take(CONCURRENCY) {
            spawn(&mut running, batch);
        }
        while let Some(done) = running.join_next().await {
            done.map_err(|e| backend_msg(what, format!("batch write task failed: {e}")))??;
            if let Some(batch) = batches.next() {
                spawn(&mut running, batch);
            }
        }
        Ok(())
    }

    pub(super) async fn write_batch(
        &self,
        what: &str,
        mut batch: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let start = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let out = self
                .call(what, || {
                    self.client()
                        .batch_write_item()
                        .request_items(self.table(), batch.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            let left = out
                .unprocessed_items
                .and_then(|mut m| m.remove(self.table()))
                .unwrap_or_default();
            if left.is_empty() {
                return Ok(());
            }
            if start.elapsed() + backoff >= self.retry_window {
                return Err(backend_msg(
                    what,
                    format!("{} items still unprocessed after retrying", left.len()),
                ));
            }
            tracing::warn!(
                table = %self.table(),
                unprocessed = left.len(),
                "dynamodb: {what}: unprocessed items; retrying"
            );
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            batch = left;
        }
    }
}

impl DynamoStore {
    /// The items of partition `pk` whose sort keys lie between `from` and `to` (inclusive), all
    /// pages, strongly consistent.
    pub(super) async fn query_range(
        &self,
        what: &str,
        pk: &str,
        from: &str,
        to: &str,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(what, || {
                    let mut q = self
                        .client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(pk))
                        .expression_attribute_values(":from", s(from))
                        .expression_attribute_values(":to", s(to))
                        .set_exclusive_start_key(start.clone());
                    if keys_only {
                        q = q.projection_expression("#pk, #sk");
                    }
                    q.send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The keys of every item of partition `pk`, all pages, strongly consistent.
    pub(super) async fn query_partition(
        &self,
        what: &str,
        pk: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .call(what, || {
                    self.client()
                        .query()
                        .table_name(self.table())
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_names("#sk", "sk")
                        .expression_attribute_values(":pk", s(pk))
                        .projection_expression("#pk, #sk")
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| backend(what, &e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The items at `keys` that exist (in no particular order), strongly consistent: 100 keys
    /// a request, the keys DynamoDB leaves unprocessed (throttling, 16 MB answers) sent again.
    pub(super) async fn batch_get(
        &self,
        what: &str,
        keys: Vec<Item>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        for batch in keys.chunks(BATCH_GET_ITEMS) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(batch.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| backend_msg(what, e.to_string()))?;
            let start = Instant::now();
            let mut backoff = FIRST_BACKOFF;
            loop {
                let out = self
                    .call(what, || {
                        self.client()
                            .batch_get_item()
                            .request_items(self.table(), pending.clone())
                            .send()
                    })
                    .await
                    .map_err(|e| backend(what, &e))?;
                if let Some(found) = out.responses.and_then(|mut r| r.remove(self.table())) {
                    items.extend(found);
                }
                let left = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(self.table()))
                    .filter(|left| !left.keys().is_empty());
                let Some(left) = left else { break };
                if start.elapsed() + backoff >= self.retry_window {
                    return Err(backend_msg(
                        what,
                        format!(
                            "{} keys still unprocessed after retrying",
                            left.keys().len()
                        ),
                    ));
                }
                tracing::warn!(
                    table = %self.table(),
                    unprocessed = left.keys().len(),
                    "dynamodb: {what}: unprocessed keys; retrying"
                );
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                pending = left;
            }
        }
        Ok(items)
    }
}

pub(super) fn jitter(pause: Duration) -> Duration {
    pause.mul_f64(rand::random_range(0.5..1.0))
}
