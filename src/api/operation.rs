//! The operations of the Step Functions API (service model `states-2016-11-23`), parsed once
//! from an `X-Amz-Target` or a Lambda event and matched as an enum from then on.

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// An operation of the Step Functions API. The dispatcher answers
        /// `UnknownOperationException` for those it does not implement yet.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Operation {
            /// Every operation of the model, in alphabetical order.
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The operation's name as in `X-Amz-Target` (`AWSStepFunctions.<name>`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$name => stringify!($name),)*
                }
            }

            /// The operation named `name`, if the model has one.
            pub fn parse(name: &str) -> Option<Operation> {
                match name {
                    $(stringify!($name) => Some(Operation::$name),)*
                    _ => None,
                }
            }
        }
    };
}

operations![
    CreateActivity,
    CreateStateMachine,
    CreateStateMachineAlias,
    DeleteActivity,
    DeleteStateMachine,
    DeleteStateMachineAlias,
    DeleteStateMachineVersion,
    DescribeActivity,
    DescribeExecution,
    DescribeMapRun,
    DescribeStateMachine,
    DescribeStateMachineAlias,
    DescribeStateMachineForExecution,
    GetActivityTask,
    GetExecutionHistory,
    ListActivities,
    ListExecutions,
    ListMapRuns,
    ListStateMachineAliases,
    ListStateMachineVersions,
    ListStateMachines,
    ListTagsForResource,
    PublishStateMachineVersion,
    RedriveExecution,
    SendTaskFailure,
    SendTaskHeartbeat,
    SendTaskSuccess,
    StartExecution,
    StartSyncExecution,
    StopExecution,
    TagResource,
    TestState,
    UntagResource,
    UpdateMapRun,
    UpdateStateMachine,
    UpdateStateMachineAlias,
    ValidateStateMachineDefinition,
];

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_parses_from_its_name_and_nothing_else_does() {
        assert_eq!(Operation::ALL.len(), 37);
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.name()), Some(*op));
        }
        assert_eq!(Operation::parse("startExecution"), None);
        assert_eq!(Operation::parse("Nope"), None);
        let mut names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort_unstable();
            s
        };
        assert_eq!(names, sorted);
        names.dedup();
        assert_eq!(names.len(), 37);
    }
}
