//! A Task state's `Resource`, parsed once when the definition loads: an optimized or AWS SDK
//! integration (`arn:aws:states:::<service>:<action>` with its integration pattern), an
//! activity, or a Lambda function. Everything that asks what a resource is asks this type.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a task waits for its work: the suffix of an integration's resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// No suffix: the task ends when the service answers the request.
    RequestResponse,
    /// `.sync`: the task waits for the job the request started.
    Sync,
    /// `.sync:2`: as `.sync`, with the job's input and output as JSON.
    Sync2,
    /// `.waitForTaskToken`: the task waits for a callback with its token.
    WaitForTaskToken,
}

impl Pattern {
    fn from_suffix(suffix: &str) -> Option<Pattern> {
        match suffix {
            "" => Some(Pattern::RequestResponse),
            ".sync" => Some(Pattern::Sync),
            ".sync:2" => Some(Pattern::Sync2),
            ".waitForTaskToken" => Some(Pattern::WaitForTaskToken),
            _ => None,
        }
    }
}

/// What a resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `arn:<partition>:states:::<service>:<action>[<pattern>]`; for the AWS SDK integrations
    /// `service` is `aws-sdk:<sdk service>`.
    Integration {
        /// `lambda`, `dynamodb`, `http`, `states`, `aws-sdk:s3`, ...
        service: String,
        /// `invoke`, `getItem`, `startExecution`, ...
        action: String,
        /// How the task waits.
        pattern: Pattern,
    },
    /// `arn:<partition>:states:<region>:<account>:activity:<name>`.
    Activity,
    /// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
    LambdaFunction,
    /// Anything else (left to whatever integration claims it).
    Other,
}

/// A Task state's `Resource`: the ARN as written and what it names. Cloned with every task
/// request, so shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource(Arc<Parsed>);

#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    arn: String,
    kind: Kind,
}

/// Splits `arn:<partition>:<rest>` when the partition is an AWS one (`aws`, `aws-cn`, ...).
fn after_partition(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    partition.starts_with("aws").then_some(rest)
}

impl Resource {
    /// Parses a resource ARN; a string that names nothing known is [`Kind::Other`].
    pub fn parse(arn: &str) -> Resource {
        Resource(Arc::new(Parsed {
            arn: arn.to_string(),
            kind: Self::kind_of(arn),
        }))
    }

    fn kind_of(arn: &str) -> Kind {
        let Some(rest) = after_partition(arn) else {
            return Kind::Other;
        };
        if let Some(integration) = rest.strip_prefix("states:::") {
            let (service, rest) = match integration.strip_prefix("aws-sdk:") {
                Some(sdk) => match sdk.split_once(':') {
                    Some((service, rest)) => (format!("aws-sdk:{service}"), rest),
                    None => return Kind::Other,
                },
                None => match integration.split_once(':') {
                    Some((service, rest)) => (service.to_string(), rest),
                    None => return Kind::Other,
                },
            };
            let (action, suffix) = match rest.find('.') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            return match Pattern::from_suffix(suffix) {
                Some(pattern) if !service.is_empty() && !action.is_empty() => Kind::Integration {
                    service,
                    action: action.to_string(),
                    pattern,
                },
                _ => Kind::Other,
            };
        }
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        match parts.as_slice() {
            ["states", _, _, "activity", name] if !name.is_empty() => Kind::Activity,
            ["lambda", _, _, "function", name] if !name.is_empty() => Kind::LambdaFunction,
            _ => Kind::Other,
        }
    }

    /// The ARN as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.0.arn
    }

    /// What it names.
    pub fn kind(&self) -> &Kind {
        &self.0.kind
    }

    /// The service, action and pattern of an integration.
    pub fn integration(&self) -> Option<(&str, &str, Pattern)> {
        match &self.0.kind {
            Kind::Integration {
                service,
                action,
                pattern,
            } => Some((service, action, *pattern)),
            _ => None,
        }
    }

    /// True when the resource is the integration `service:action` with any pattern.
    pub fn is(&self, service: &str, action: &str) -> bool {
        self.integration()
            .is_some_and(|(s, a, _)| s == service && a == action)
    }

    /// The integration pattern (`None` for an activity, a function or an unknown resource).
    pub fn pattern(&self) -> Option<Pattern> {
        self.integration().map(|(_, _, p)| p)
    }

    /// True for an activity ARN.
    pub fn is_activity(&self) -> bool {
        self.0.kind == Kind::Activity
    }

    /// True for a Lambda function ARN used as `Resource` (the legacy integration).
    pub fn is_lambda_function(&self) -> bool {
        self.0.kind == Kind::LambdaFunction
    }

    /// True when the task gets a task token and waits for a callback with it:
    /// `.waitForTaskToken` integrations and activities.
    pub fn takes_task_token(&self) -> bool {
        self.is_activity() || self.pattern() == Some(Pattern::WaitForTaskToken)
    }

    /// True when the task's context object has a `$$.Task.Token`: callback tasks, and (as
    /// on AWS) `.sync` and `.sync:2` tasks, whose token a SendTaskSuccess may also answer.
    pub fn has_task_token(&self) -> bool {
        self.takes_task_token() || matches!(self.pattern(), Some(Pattern::Sync | Pattern::Sync2))
    }

    /// The `resourceType` and `resource` that history events show for the task.
    pub fn history_parts(&self) -> (String, String) {
        if let Some(rest) = self.0.arn.strip_prefix("arn:aws:states:::") {
            let mut it = rest.splitn(2, ':');
            let kind = it.next().unwrap_or_default().to_string();
            let name = it.next().unwrap_or_default().to_string();
            return (kind, name);
        }
        let parts: Vec<&str> = self.0.arn.split(':').collect();
        match parts.get(2) {
            Some(&"lambda") => ("lambda".into(), "invoke".into()),
            Some(&"states") if self.is_activity() => ("activity".into(), self.0.arn.clone()),
            Some(kind) => ((*kind).to_string(), self.0.arn.clone()),
            None => ("unknown".into(), self.0.arn.clone()),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.arn)
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.arn)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let arn = String::deserialize(deserializer)?;
        Ok(Resource::parse(&arn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrations_split_into_service_action_and_pattern() {
        let r = Resource::parse("arn:aws:states:::states:startExecution.sync:2");
        assert_eq!(
            r.integration(),
            Some(("states", "startExecution", Pattern::Sync2))
        );
        let r = Resource::parse("arn:aws:states:::lambda:invoke.waitForTaskToken");
        assert_eq!(
            r.integration(),
            Some(("lambda", "invoke", Pattern::WaitForTaskToken))
        );
        assert!(r.takes_task_token());
        let r = Resource::parse("arn:aws:states:::aws-sdk:s3:listObjectsV2");
        assert_eq!(
            r.integration(),
            Some(("aws-sdk:s3", "listObjectsV2", Pattern::RequestResponse))
        );
        let r = Resource::parse("arn:aws-cn:states:::dynamodb:getItem");
        assert!(r.is("dynamodb", "getItem"));
    }

    #[test]
    fn unknown_suffixes_and_shapes_are_other() {
        for arn in [
            "arn:aws:states:::states:startExecution.nope",
            "arn:aws:states:::lambda",
            "arn:aws:lambda:us-east-1:111111111111:layer:l",
            "arn:other:states:::lambda:invoke",
            "not an arn",
        ] {
            assert_eq!(Resource::parse(arn).kind(), &Kind::Other, "{arn}");
        }
    }

    #[test]
    fn activities_and_functions_are_recognised() {
        let a = Resource::parse("arn:aws:states:us-east-1:111111111111:activity:work");
        assert!(a.is_activity() && a.takes_task_token());
        assert_eq!(
            a.history_parts(),
            ("activity".to_string(), a.as_str().to_string())
        );
        let f = Resource::parse("arn:aws:lambda:us-east-1:111111111111:function:f:live");
        assert!(f.is_lambda_function() && !f.takes_task_token());
        assert_eq!(f.history_parts(), ("lambda".into(), "invoke".into()));
    }

    #[test]
    fn history_parts_of_an_integration_are_service_and_action() {
        let r = Resource::parse("arn:aws:states:::dynamodb:putItem");
        assert_eq!(r.history_parts(), ("dynamodb".into(), "putItem".into()));
    }

    #[test]
    fn serde_keeps_the_arn_as_a_string() {
        let r = Resource::parse("arn:aws:states:::http:invoke");
        let json = serde_json::to_string(&r).expect("serializes");
        assert_eq!(json, "\"arn:aws:states:::http:invoke\"");
        let back: Resource = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, r);
    }
}
