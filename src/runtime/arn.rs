//! Every ARN stepfn makes or takes apart: state machines, executions (standard and express),
//! activities and the default role, in the account and region executions run under.

use crate::engine::ExecutionInfo;

/// Step Functions' rule for the names of state machines, executions and activities (the last
/// part of their ARNs): 1 to 80 characters, none of them whitespace, a control character or one
/// of `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// What [`is_valid_name`] allows, for messages.
pub const NAME_RULE: &str = "1 to 80 characters, without whitespace, control characters or any of < > { } [ ] ? * \" # % \\ ^ | ~ ` $ & , ; : /";

/// The region ARNs are made in.
pub const REGION: &str = "us-east-1";

/// The account ARNs are made in.
pub const ACCOUNT: &str = "111111111111";

/// Where new resources are made: the region a request's credentials name, and the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The region, e.g. `eu-west-1`.
    pub region: String,
    /// The 12-digit account.
    pub account: String,
}

impl Default for Place {
    fn default() -> Self {
        Place {
            region: REGION.to_string(),
            account: ACCOUNT.to_string(),
        }
    }
}

impl Place {
    /// The ARN of state machine `name` here.
    pub fn state_machine(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.region, self.account
        )
    }

    /// The ARN of activity `name` here.
    pub fn activity(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:activity:{name}",
            self.region, self.account
        )
    }

    /// The role an execution runs as when none is given.
    pub fn default_role(&self) -> String {
        format!("arn:aws:iam::{}:role/stepfn", self.account)
    }
}

/// The role an execution runs as when none is given.
pub fn default_role() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/stepfn")
}

/// The ARN of state machine `name`.
pub fn state_machine(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

/// The ARN of activity `name`.
pub fn activity(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:activity:{name}")
}

/// The ARN of execution `name` of the state machine `machine_arn`.
pub fn execution(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1),
        name
    )
}

/// The ARN of an express execution `name` of state machine `machine_arn`, unique by `id`.
pub fn express_execution(machine_arn: &str, name: &str, id: &str) -> String {
    format!(
        "{}:{name}:{id}",
        machine_arn.replacen(":stateMachine:", ":express:", 1)
    )
}

/// The names and ARNs of execution `name` of the state machine registered as `machine_name`,
/// started at `start_time` (ms since the epoch), as `stepfn run` has them.
pub fn local_execution(machine_name: &str, name: &str, start_time: i64) -> ExecutionInfo {
    let machine = state_machine(machine_name);
    ExecutionInfo {
        arn: execution(&machine, name),
        name: name.to_string(),
        state_machine_arn: machine,
        state_machine_name: machine_name.to_string(),
        role_arn: default_role(),
        start_time,
        origin: Default::default(),
    }
}

/// A Step Functions ARN taken apart: `arn:aws:states:<region>:<account>:<kind>:<rest>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatesArn<'a> {
    /// The region.
    pub region: &'a str,
    /// The account.
    pub account: &'a str,
    /// `stateMachine`, `execution`, `express`, `activity`, ...
    pub kind: &'a str,
    /// What follows the kind (the name, or machine and execution names).
    pub rest: &'a str,
}

impl<'a> StatesArn<'a> {
    /// Parses a Step Functions ARN; `None` when `arn` is not one.
    pub fn parse(arn: &'a str) -> Option<StatesArn<'a>> {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        match parts.as_slice() {
            ["arn", "aws", "states", region, account, kind, rest] if !rest.is_empty() => {
                Some(StatesArn {
                    region,
                    account,
                    kind,
                    rest,
                })
            }
            _ => None,
        }
    }
}

/// What follows a state machine's name in a qualified ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// A version: `NAME:3`.
    Version(u64),
    /// An alias: `NAME:prod` (alias names are never all digits).
    Alias(&'a str),
}

/// A state machine ARN split into the machine's own ARN and its qualifier, if any; `None`
/// when `arn` is not a state machine ARN.
pub fn split_machine(arn: &str) -> Option<(&str, Option<Qualifier<'_>>)> {
    let parsed = StatesArn::parse(arn).filter(|p| p.kind == "stateMachine")?;
    let Some((_, qualifier)) = parsed.rest.split_once(':') else {
        return Some((arn, None));
    };
    let machine = &arn[..arn.len() - qualifier.len() - 1];
    if !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit()) {
        return Some((machine, Some(Qualifier::Version(qualifier.parse().ok()?))));
    }
    Some((machine, Some(Qualifier::Alias(qualifier))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn qualified_arns_split_into_machine_and_version_or_alias() {
        let m = "arn:aws:states:us-east-1:111111111111:stateMachine:m";
        assert_eq!(split_machine(m), Some((m, None)));
        let v = format!("{m}:12");
        assert_eq!(split_machine(&v), Some((m, Some(Qualifier::Version(12)))));
        let a = format!("{m}:prod-1");
        assert_eq!(
            split_machine(&a),
            Some((m, Some(Qualifier::Alias("prod-1"))))
        );
        assert_eq!(split_machine("arn:aws:states:us-east-1:1:activity:a"), None);
    }

    use super::*;

    #[test]
    fn executions_live_under_their_state_machine() {
        let m = state_machine("orders");
        assert_eq!(
            m,
            "arn:aws:states:us-east-1:111111111111:stateMachine:orders"
        );
        assert_eq!(
            execution(&m, "e1"),
            "arn:aws:states:us-east-1:111111111111:execution:orders:e1"
        );
        let info = local_execution("orders", "e1", 5);
        assert_eq!(info.arn, execution(&m, "e1"));
        assert_eq!(info.state_machine_arn, m);
    }

    #[test]
    fn states_arns_parse_into_their_parts() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:m:e";
        assert_eq!(
            StatesArn::parse(arn),
            Some(StatesArn {
                region: "eu-west-1",
                account: "123456789012",
                kind: "execution",
                rest: "m:e"
            })
        );
        assert_eq!(StatesArn::parse("arn:aws:states:r:a:activity:"), None);
        assert_eq!(StatesArn::parse("nope"), None);
    }
}
