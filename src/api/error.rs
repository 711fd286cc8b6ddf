//! The errors the API answers: the exceptions of the Step Functions model (and the common ones
//! of the AWS JSON protocol), each with its wire namespace and HTTP status, and a message.

use axum::http::StatusCode;

/// The model's namespace of Step Functions' own exceptions.
const SFN: &str = "com.amazonaws.swf.service.v2.model";
/// The namespace of the protocol's common exceptions.
const CORAL: &str = "com.amazon.coral.service";

macro_rules! exceptions {
    ($($name:ident => $namespace:expr, $status:expr;)*) => {
        /// An exception the API answers with, as the service model names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Exception {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Exception {
            /// The name without namespace, e.g. `"ExecutionDoesNotExist"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Exception::$name => stringify!($name),)*
                }
            }

            /// The exception named `name`, if there is one.
            pub fn parse(name: &str) -> Option<Exception> {
                match name {
                    $(stringify!($name) => Some(Exception::$name),)*
                    _ => None,
                }
            }

            /// The namespace of its `__type`.
            fn namespace(self) -> &'static str {
                match self {
                    $(Exception::$name => $namespace,)*
                }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Exception::$name => $status,)*
                }
            }
        }
    };
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;

exceptions! {
    ActivityAlreadyExists => SFN, BAD;
    ActivityDoesNotExist => SFN, BAD;
    ActivityLimitExceeded => SFN, BAD;
    ActivityWorkerLimitExceeded => SFN, BAD;
    ConflictException => SFN, BAD;
    ExecutionAlreadyExists => SFN, BAD;
    ExecutionDoesNotExist => SFN, BAD;
    ExecutionLimitExceeded => SFN, BAD;
    ExecutionNotRedrivable => SFN, BAD;
    InvalidArn => SFN, BAD;
    InvalidDefinition => SFN, BAD;
    InvalidEncryptionConfiguration => SFN, BAD;
    InvalidExecutionInput => SFN, BAD;
    InvalidLoggingConfiguration => SFN, BAD;
    InvalidName => SFN, BAD;
    InvalidOutput => SFN, BAD;
    InvalidToken => SFN, BAD;
    InvalidTracingConfiguration => SFN, BAD;
    MissingRequiredParameter => SFN, BAD;
    ResourceNotFound => SFN, BAD;
    ServiceQuotaExceededException => SFN, BAD;
    StateMachineAlreadyExists => SFN, BAD;
    StateMachineDeleting => SFN, BAD;
    StateMachineDoesNotExist => SFN, BAD;
    StateMachineLimitExceeded => SFN, BAD;
    StateMachineTypeNotSupported => SFN, BAD;
    TaskDoesNotExist => SFN, BAD;
    TaskTimedOut => SFN, BAD;
    TooManyTags => SFN, BAD;
    // EventBridge's (answered with bare `__type`s on its wire, see `http`).
    InvalidEventPatternException => CORAL, BAD;
    ConcurrentModificationException => CORAL, BAD;
    LimitExceededException => CORAL, BAD;
    ValidationException => "com.amazon.coral.validate", BAD;
    ThrottlingException => "com.amazon.coral.availability", BAD;
    AccessDeniedException => CORAL, BAD;
    InternalFailure => CORAL, StatusCode::INTERNAL_SERVER_ERROR;
    SerializationException => CORAL, BAD;
    ServiceUnavailable => CORAL, StatusCode::SERVICE_UNAVAILABLE;
    UnknownOperationException => CORAL, BAD;
    UnrecognizedClientException => CORAL, BAD;
    // EventBridge Scheduler's (404 on its REST-JSON wire, see `scheduler_http`).
    ResourceNotFoundException => CORAL, BAD;
}

impl std::fmt::Display for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answered to the client: an exception of the model and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    /// Which exception.
    pub kind: Exception,
    /// The text clients show, e.g. `"Execution Does Not Exist: 'arn:...'"`.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: Exception, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status and the `__type` the service answers this error with.
    pub fn wire(&self) -> (StatusCode, String) {
        (
            self.kind.status(),
            format!("{}#{}", self.kind.namespace(), self.kind.name()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_maps_kinds_to_status_and_namespace() {
        use Exception as E;
        let cases = [
            (
                E::StateMachineDoesNotExist,
                400,
                "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist",
            ),
            (
                E::ExecutionAlreadyExists,
                400,
                "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists",
            ),
            (
                E::ValidationException,
                400,
                "com.amazon.coral.validate#ValidationException",
            ),
            (
                E::ThrottlingException,
                400,
                "com.amazon.coral.availability#ThrottlingException",
            ),
            (
                E::UnknownOperationException,
                400,
                "com.amazon.coral.service#UnknownOperationException",
            ),
            (
                E::InternalFailure,
                500,
                "com.amazon.coral.service#InternalFailure",
            ),
            (
                E::ServiceUnavailable,
                503,
                "com.amazon.coral.service#ServiceUnavailable",
            ),
        ];
        for (kind, status, wire) in cases {
            let (got_status, got_wire) = ApiError::new(kind, "m").wire();
            assert_eq!((got_status.as_u16(), got_wire.as_str()), (status, wire));
        }
    }

    #[test]
    fn names_parse_back_and_errors_display_kind_and_message() {
        for name in ["InvalidArn", "TaskTimedOut", "SerializationException"] {
            assert_eq!(Exception::parse(name).map(Exception::name), Some(name));
        }
        assert_eq!(Exception::parse("NoSuchThing"), None);
        let error = ApiError::new(Exception::InvalidArn, "Invalid Arn: 'x'");
        assert_eq!(error.to_string(), "InvalidArn: Invalid Arn: 'x'");
    }
}
