"""RedriveExecution through boto3: part of the session in boto3_session.py.

A callback task fails the first run (SendTaskFailure), the redrive runs that task again and
its new token succeeds; the history continues the first run's event ids.
"""

import json
import time

from boto3_session import POLL_SECONDS, ROLE_ARN, TIMEOUT_SECONDS, check, expect_error, is_time, wait_for_status


def token_after(client, execution_arn, after_id):
    """The task token of the first TaskScheduled event after event `after_id`."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        for event in client.get_execution_history(executionArn=execution_arn)["events"]:
            details = event.get("taskScheduledEventDetails")
            if details and event["id"] > after_id:
                return json.loads(details["parameters"])["MessageBody"]["token"]
        check(time.monotonic() < deadline, "the callback task was scheduled")
        time.sleep(POLL_SECONDS)


def redrive(client, suffix):
    definition = json.dumps({
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"order": 7}, "Next": "Charge"},
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.charge",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    })
    machine = client.create_state_machine(
        name=f"redrive-{suffix}", definition=definition, roleArn=ROLE_ARN)["stateMachineArn"]
    run = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    client.send_task_failure(taskToken=token_after(client, run, 0), error="Card.Declined", cause="no funds")
    failed = wait_for_status(client, run, "FAILED")
    check(failed["redriveStatus"] == "REDRIVABLE" and failed["redriveCount"] == 0
          and "redriveDate" not in failed, f"a failed execution is redrivable: {failed}")
    first = client.get_execution_history(executionArn=run)["events"]

    answer = client.redrive_execution(executionArn=run, clientToken="fix-1")
    check(is_time(answer["redriveDate"]), f"RedriveExecution answers its date: {answer}")
    again = client.redrive_execution(executionArn=run, clientToken="fix-1")
    check(again["redriveDate"] == answer["redriveDate"], "the same clientToken answers the same redrive")
    running = client.describe_execution(executionArn=run)
    check(running["status"] == "RUNNING" and running["redriveCount"] == 1 and is_time(running["redriveDate"])
          and "stopDate" not in running and running["redriveStatus"] == "NOT_REDRIVABLE",
          f"a redriven execution runs again: {running}")
    expect_error(client.exceptions.ExecutionNotRedrivable, client.redrive_execution, executionArn=run)

    client.send_task_success(taskToken=token_after(client, run, first[-1]["id"]), output=json.dumps({"paid": True}))
    done = wait_for_status(client, run, "SUCCEEDED")
    check(json.loads(done["output"]) == {"order": 7, "charge": {"paid": True}}, f"redriven output {done.get('output')}")
    events = client.get_execution_history(executionArn=run)["events"]
    check([e["id"] for e in events] == list(range(1, len(events) + 1)), "event ids continue the first run's")
    check(events[:len(first)] == first, "the first run's events are kept")
    redriven = events[len(first)]
    check(redriven["type"] == "ExecutionRedriven"
          and redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
          and redriven["previousEventId"] == first[-1]["id"], f"the ExecutionRedriven event: {redriven}")
    later = [e["type"] for e in events[len(first) + 1:]]
    check("PassStateEntered" not in later and later[0] == "TaskStateEntered",
          f"only the state that failed runs again: {later}")
    expect_error(client.exceptions.ExecutionNotRedrivable, client.redrive_execution, executionArn=run)

    listed = client.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    check([e["executionArn"] for e in listed] == [run] and listed[0]["redriveCount"] == 1,
          f"ListExecutions redriveFilter REDRIVEN: {listed}")
    stopped = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token_after(client, stopped, 0)
    client.stop_execution(executionArn=stopped, error="Operator")
    wait_for_status(client, stopped, "ABORTED")
    not_redriven = client.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"]
    check([e["executionArn"] for e in not_redriven] == [stopped], f"redriveFilter NOT_REDRIVEN: {not_redriven}")
    client.redrive_execution(executionArn=stopped)
    check(client.describe_execution(executionArn=stopped)["status"] == "RUNNING", "a stopped execution redrives")

    expect_error(client.exceptions.ExecutionDoesNotExist, client.redrive_execution,
                 executionArn=run.replace(":execution:", ":execution:") + "-missing")
    expect_error(client.exceptions.InvalidArn, client.redrive_execution, executionArn="not-an-arn")
    expect_error(client.exceptions.ValidationException, client.list_executions, stateMachineArn=machine,
                 redriveFilter="SOMETIMES")
