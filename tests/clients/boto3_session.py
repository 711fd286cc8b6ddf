#!/usr/bin/env python3
"""One scripted session of boto3 against a running `stepfn serve`.

    venv="$(bash infra/python-clients.sh)"
    "$venv/bin/python" tests/clients/boto3_session.py --endpoint http://127.0.0.1:PORT

Every call goes through botocore's own serializer, parser and modeled exceptions
(`client.exceptions.ExecutionDoesNotExist`, ...), so a pass means a real client takes the
endpoint for AWS Step Functions. Field names and behaviour follow the service model
(botocore data/stepfunctions/2016-11-23) and the API reference. Names carry a random suffix, so
the session can run again against the same server.

Prints `boto3 session: N checks passed` and exits 0, or the failed check and exits 1.
"""

import argparse
import datetime
import json
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::111111111111:role/stepfn-session"
POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 30.0

CHECKS = 0
# With --keep-going, failed checks are collected here instead of stopping the session.
FAILURES = None


def check(condition, message):
    """A plain assert, counted."""
    global CHECKS
    CHECKS += 1
    if FAILURES is not None and not condition:
        FAILURES.append(message)
        print(f"boto3 session: FAILED: {message}", file=sys.stderr)
        return
    assert condition, message


def expect_error(exception, call, **kwargs):
    """Runs `call(**kwargs)`, which must raise the modeled `exception` with HTTP 400."""
    name = exception.__name__
    try:
        call(**kwargs)
    except exception as error:
        meta = error.response["ResponseMetadata"]
        check(meta["HTTPStatusCode"] == 400, f"{name}: HTTP {meta['HTTPStatusCode']}, expected 400")
        check(meta.get("RequestId"), f"{name}: no x-amzn-RequestId on the error response")
        check(error.response["Error"]["Code"] == name, f"{name}: code {error.response['Error']}")
        check(error.response["Error"]["Message"], f"{name}: empty message")
        return error
    except ClientError as error:
        check(False, f"{call.__name__}({kwargs}): expected {name}, got {error.response['Error']}")
        return error
    check(False, f"{call.__name__}({kwargs}): expected {name}, but the call succeeded")
    return None


def is_time(value):
    return isinstance(value, datetime.datetime) and value.tzinfo is not None


def wait_for_status(client, execution_arn, wanted):
    """Polls DescribeExecution until the status is `wanted` (or the execution closes otherwise)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if status == wanted:
            return described
        check(
            status == "RUNNING" or status == "PENDING_REDRIVE",
            f"{execution_arn}: status {status} ({described.get('error')}: "
            f"{described.get('cause')}), expected {wanted}",
        )
        check(
            time.monotonic() < deadline, f"{execution_arn}: still {status} after {TIMEOUT_SECONDS}s"
        )
        time.sleep(POLL_SECONDS)


def all_pages(call, key, **kwargs):
    """Every item of a paginated list, following nextToken; checks the page size."""
    items, pages, token = [], 0, None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        pages += 1
        limit = kwargs.get("maxResults")
        if limit:
            check(
                len(page[key]) <= limit,
                f"{call.__name__}: {len(page[key])} items on a page of {limit}",
            )
        items.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return items, pages
        check(pages < 1000, f"{call.__name__}: more than 1000 pages")


def definition(comment):
    return json.dumps(
        {
            "Comment": comment,
            "StartAt": "Greet",
            "States": {
                "Greet": {
                    "Type": "Pass",
                    "Parameters": {
                        "greeting.$": "States.Format('Hello, {}!', $.name)",
                        "wait.$": "$.wait",
                    },
                    "Next": "HowLong",
                },
                "HowLong": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.wait", "NumericGreaterThan": 0, "Next": "Nap"}],
                    "Default": "Done",
                },
                "Nap": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        },
        indent=2,
    )


EXPRESS_DEFINITION = json.dumps(
    {
        "StartAt": "Shout",
        "States": {
            "Shout": {
                "Type": "Pass",
                "Parameters": {"said.$": "States.Format('{}!', $.word)"},
                "End": True,
            }
        },
    }
)

# `Next` names no state.
INVALID_DEFINITION = json.dumps(
    {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Next": "Nowhere"}}}
)


def session(client):
    suffix = uuid.uuid4().hex[:8]
    name = f"session-{suffix}"
    express_name = f"session-express-{suffix}"
    first_definition = definition("boto3 session")

    # --- CreateStateMachine, DescribeStateMachine -------------------------------------------
    created = client.create_state_machine(
        name=name,
        definition=first_definition,
        roleArn=ROLE_ARN,
        type="STANDARD",
        tags=[{"key": "team", "value": "core"}],
    )
    machine_arn = created["stateMachineArn"]
    parts = machine_arn.split(":")
    check(
        len(parts) == 7
        and parts[:4] == ["arn", "aws", "states", REGION]
        and parts[5:] == ["stateMachine", name],
        f"state machine ARN {machine_arn}",
    )
    account = parts[4]
    check(is_time(created["creationDate"]), f"creationDate {created['creationDate']!r}")
    check(created["ResponseMetadata"].get("RequestId"), "no x-amzn-RequestId on CreateStateMachine")

    again = client.create_state_machine(
        name=name,
        definition=first_definition,
        roleArn=ROLE_ARN,
        type="STANDARD",
        tags=[{"key": "team", "value": "core"}],
    )
    check(
        again["stateMachineArn"] == machine_arn,
        "CreateStateMachine with the same parameters is idempotent",
    )
    expect_error(
        client.exceptions.StateMachineAlreadyExists,
        client.create_state_machine,
        name=name,
        definition=definition("another definition"),
        roleArn=ROLE_ARN,
    )

    described = client.describe_state_machine(stateMachineArn=machine_arn)
    check(
        described["stateMachineArn"] == machine_arn,
        f"DescribeStateMachine arn {described['stateMachineArn']}",
    )
    check(described["name"] == name, f"DescribeStateMachine name {described['name']}")
    check(
        described["definition"] == first_definition,
        "DescribeStateMachine returns the definition as given",
    )
    check(described["roleArn"] == ROLE_ARN, f"DescribeStateMachine roleArn {described['roleArn']}")
    check(described["type"] == "STANDARD", f"DescribeStateMachine type {described['type']}")
    check(
        described.get("status") == "ACTIVE",
        f"DescribeStateMachine status {described.get('status')}",
    )
    check(is_time(described["creationDate"]), "DescribeStateMachine creationDate")

    missing_machine = f"arn:aws:states:{REGION}:{account}:stateMachine:missing-{suffix}"
    expect_error(
        client.exceptions.StateMachineDoesNotExist,
        client.describe_state_machine,
        stateMachineArn=missing_machine,
    )
    expect_error(
        client.exceptions.StateMachineDoesNotExist,
        client.start_execution,
        stateMachineArn=missing_machine,
    )
    expect_error(
        client.exceptions.InvalidArn, client.describe_state_machine, stateMachineArn="not-an-arn"
    )

    # --- EXPRESS machine, StartSyncExecution ------------------------------------------------
    express_arn = client.create_state_machine(
        name=express_name, definition=EXPRESS_DEFINITION, roleArn=ROLE_ARN, type="EXPRESS"
    )["stateMachineArn"]
    check(
        client.describe_state_machine(stateMachineArn=express_arn)["type"] == "EXPRESS",
        "EXPRESS machine type",
    )
    synced = client.start_sync_execution(
        stateMachineArn=express_arn, input=json.dumps({"word": "hi"})
    )
    check(
        synced["status"] == "SUCCEEDED", f"StartSyncExecution status {synced['status']}: {synced}"
    )
    check(
        json.loads(synced["output"]) == {"said": "hi!"},
        f"StartSyncExecution output {synced.get('output')}",
    )
    check(is_time(synced["startDate"]) and is_time(synced["stopDate"]), "StartSyncExecution dates")
    check(synced["startDate"] <= synced["stopDate"], "StartSyncExecution startDate <= stopDate")
    check(
        synced["executionArn"].startswith(
            f"arn:aws:states:{REGION}:{account}:express:{express_name}:"
        ),
        f"express execution ARN {synced['executionArn']}",
    )
    expect_error(
        client.exceptions.StateMachineTypeNotSupported,
        client.start_sync_execution,
        stateMachineArn=machine_arn,
    )
    expect_error(
        client.exceptions.StateMachineTypeNotSupported,
        client.list_executions,
        stateMachineArn=express_arn,
    )

    # --- ListStateMachines, one per page ------------------------------------------------------
    machines, pages = all_pages(client.list_state_machines, "stateMachines", maxResults=1)
    by_arn = {m["stateMachineArn"]: m for m in machines}
    check(machine_arn in by_arn and express_arn in by_arn, "ListStateMachines lists both machines")
    check(
        pages >= len(machines) >= 2,
        f"ListStateMachines maxResults=1: {len(machines)} machines on {pages} pages",
    )
    check(len(by_arn) == len(machines), "ListStateMachines pages do not repeat a machine")
    listed = by_arn[machine_arn]
    check(
        listed["name"] == name and listed["type"] == "STANDARD", f"ListStateMachines item {listed}"
    )
    check(is_time(listed["creationDate"]), "ListStateMachines creationDate")
    expect_error(
        client.exceptions.InvalidToken, client.list_state_machines, nextToken="not-a-token"
    )

    # --- UpdateStateMachine -------------------------------------------------------------------
    second_definition = definition("boto3 session, updated")
    updated = client.update_state_machine(stateMachineArn=machine_arn, definition=second_definition)
    check(
        is_time(updated["updateDate"]),
        f"UpdateStateMachine updateDate {updated.get('updateDate')!r}",
    )
    check(
        client.describe_state_machine(stateMachineArn=machine_arn)["definition"]
        == second_definition,
        "DescribeStateMachine shows the updated definition",
    )

    # --- ValidateStateMachineDefinition -------------------------------------------------------
    valid = client.validate_state_machine_definition(definition=second_definition, type="STANDARD")
    check(valid["result"] == "OK", f"valid definition: result {valid['result']}")
    check(valid["diagnostics"] == [], f"valid definition: diagnostics {valid['diagnostics']}")
    invalid = client.validate_state_machine_definition(definition=INVALID_DEFINITION)
    check(invalid["result"] == "FAIL", f"invalid definition: result {invalid['result']}")
    check(invalid["diagnostics"], "invalid definition: no diagnostics")
    for diagnostic in invalid["diagnostics"]:
        check(
            set(diagnostic) <= {"severity", "code", "message", "location"},
            f"diagnostic fields {sorted(diagnostic)}",
        )
        check(diagnostic["severity"] in ("ERROR", "WARNING"), f"diagnostic severity {diagnostic}")
        check(
            isinstance(diagnostic["code"], str) and diagnostic["code"],
            f"diagnostic code {diagnostic}",
        )
        check(
            isinstance(diagnostic["message"], str) and diagnostic["message"],
            f"diagnostic message {diagnostic}",
        )
        check(isinstance(diagnostic.get("location", ""), str), f"diagnostic location {diagnostic}")
    check(
        any(d["severity"] == "ERROR" for d in invalid["diagnostics"]),
        "invalid definition: an ERROR diagnostic",
    )
    check(
        any("Greet" in d.get("location", "") + d["message"] for d in invalid["diagnostics"]),
        f"invalid definition: a diagnostic names state Greet: {invalid['diagnostics']}",
    )

    # --- StartExecution, DescribeExecution until SUCCEEDED ------------------------------------
    run_input = json.dumps({"name": "Ada", "wait": 1})
    run_name = f"run-{suffix}"
    started = client.start_execution(stateMachineArn=machine_arn, name=run_name, input=run_input)
    run_arn = started["executionArn"]
    check(
        run_arn == f"arn:aws:states:{REGION}:{account}:execution:{name}:{run_name}",
        f"execution ARN {run_arn}",
    )
    check(is_time(started["startDate"]), "StartExecution startDate")
    done = wait_for_status(client, run_arn, "SUCCEEDED")
    check(
        done["executionArn"] == run_arn and done["stateMachineArn"] == machine_arn,
        "DescribeExecution ARNs",
    )
    check(done["name"] == run_name, f"DescribeExecution name {done.get('name')}")
    check(
        json.loads(done["input"]) == json.loads(run_input),
        f"DescribeExecution input {done.get('input')}",
    )
    check(
        json.loads(done["output"]) == {"greeting": "Hello, Ada!", "wait": 1},
        f"DescribeExecution output {done.get('output')}",
    )
    check(
        is_time(done["stopDate"]) and done["startDate"] <= done["stopDate"],
        "DescribeExecution dates",
    )
    check("error" not in done and "cause" not in done, f"SUCCEEDED has no error or cause: {done}")

    missing_run = f"arn:aws:states:{REGION}:{account}:execution:{name}:missing-{suffix}"
    expect_error(
        client.exceptions.ExecutionDoesNotExist, client.describe_execution, executionArn=missing_run
    )
    expect_error(
        client.exceptions.ExecutionDoesNotExist,
        client.get_execution_history,
        executionArn=missing_run,
    )
    expect_error(client.exceptions.InvalidArn, client.describe_execution, executionArn="not-an-arn")

    # --- GetExecutionHistory --------------------------------------------------------------------
    events, _ = all_pages(client.get_execution_history, "events", executionArn=run_arn)
    types = [e["type"] for e in events]
    check(
        types
        == [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded",
        ],
        f"history event types {types}",
    )
    check([e["id"] for e in events] == list(range(1, len(events) + 1)), "history ids count from 1")
    check(
        # As AWS writes it: the first state's StateEntered follows no event (0), then a chain.
        [e.get("previousEventId") for e in events[:2]] == [0, 0]
        and all(e.get("previousEventId") == e["id"] - 1 for e in events[2:]),
        f"history previousEventId chain {[(e['id'], e.get('previousEventId')) for e in events]}",
    )
    check(all(is_time(e["timestamp"]) for e in events), "history timestamps")
    started_details = events[0]["executionStartedEventDetails"]
    check(
        json.loads(started_details["input"]) == json.loads(run_input),
        f"ExecutionStarted input {started_details}",
    )
    check(started_details.get("roleArn") == ROLE_ARN, f"ExecutionStarted roleArn {started_details}")
    check(
        events[1]["stateEnteredEventDetails"]["name"] == "Greet", f"first state entered {events[1]}"
    )
    check(
        json.loads(events[-1]["executionSucceededEventDetails"]["output"])
        == json.loads(done["output"]),
        f"ExecutionSucceeded output {events[-1]}",
    )
    reverse = client.get_execution_history(executionArn=run_arn, reverseOrder=True)["events"]
    check([e["id"] for e in reverse] == [e["id"] for e in reversed(events)], "reverseOrder history")
    paged, pages = all_pages(
        client.get_execution_history, "events", executionArn=run_arn, maxResults=2
    )
    check(
        [e["id"] for e in paged] == [e["id"] for e in events],
        "history in pages of 2 is the whole history",
    )
    check(pages == (len(events) + 1) // 2, f"history of {len(events)} events in {pages} pages of 2")
    paged_reverse, _ = all_pages(
        client.get_execution_history,
        "events",
        executionArn=run_arn,
        maxResults=3,
        reverseOrder=True,
    )
    check(
        [e["id"] for e in paged_reverse] == [e["id"] for e in reverse],
        "reverseOrder history in pages of 3",
    )

    # --- A long-waiting execution: idempotent start, ExecutionAlreadyExists, StopExecution -------
    long_input = json.dumps({"name": "Grace", "wait": 3600})
    long_name = f"long-{suffix}"
    long_started = client.start_execution(
        stateMachineArn=machine_arn, name=long_name, input=long_input
    )
    long_arn = long_started["executionArn"]
    # Spec: StartExecution is idempotent for a running STANDARD execution with the same name and
    # input; a different input, or a closed execution, gives ExecutionAlreadyExists.
    repeated = client.start_execution(stateMachineArn=machine_arn, name=long_name, input=long_input)
    check(
        repeated["executionArn"] == long_arn,
        "StartExecution with the same name and input is idempotent",
    )
    check(
        repeated["startDate"] == long_started["startDate"],
        "idempotent StartExecution keeps the startDate",
    )
    expect_error(
        client.exceptions.ExecutionAlreadyExists,
        client.start_execution,
        stateMachineArn=machine_arn,
        name=long_name,
        input=json.dumps({"name": "Grace", "wait": 7200}),
    )
    expect_error(
        client.exceptions.ExecutionAlreadyExists,
        client.start_execution,
        stateMachineArn=machine_arn,
        name=run_name,
        input=run_input,
    )

    # --- ListExecutions -------------------------------------------------------------------------
    succeeded, _ = all_pages(
        client.list_executions, "executions", stateMachineArn=machine_arn, statusFilter="SUCCEEDED"
    )
    check([e["executionArn"] for e in succeeded] == [run_arn], f"SUCCEEDED executions {succeeded}")
    item = succeeded[0]
    check(
        item["name"] == run_name
        and item["status"] == "SUCCEEDED"
        and item["stateMachineArn"] == machine_arn,
        f"ListExecutions item {item}",
    )
    check(is_time(item["startDate"]) and is_time(item["stopDate"]), "ListExecutions dates")
    running, _ = all_pages(
        client.list_executions, "executions", stateMachineArn=machine_arn, statusFilter="RUNNING"
    )
    check([e["executionArn"] for e in running] == [long_arn], f"RUNNING executions {running}")
    check("stopDate" not in running[0], "a RUNNING execution has no stopDate")
    everything, pages = all_pages(
        client.list_executions, "executions", stateMachineArn=machine_arn, maxResults=1
    )
    check(
        sorted(e["executionArn"] for e in everything) == sorted([run_arn, long_arn]) and pages == 2,
        f"ListExecutions maxResults=1: {everything} on {pages} pages",
    )
    check(
        everything[0]["executionArn"] == long_arn, "ListExecutions lists the newest execution first"
    )

    stopped = client.stop_execution(
        executionArn=long_arn, error="Operator.Stop", cause="stopped by the boto3 session"
    )
    check(is_time(stopped["stopDate"]), "StopExecution stopDate")
    aborted = wait_for_status(client, long_arn, "ABORTED")
    check(is_time(aborted["stopDate"]), "ABORTED execution has a stopDate")
    check("output" not in aborted, "ABORTED execution has no output")
    if "error" in aborted or "cause" in aborted:
        check(
            aborted.get("error") == "Operator.Stop"
            and aborted.get("cause") == "stopped by the boto3 session",
            f"ABORTED error and cause {aborted.get('error')}: {aborted.get('cause')}",
        )
    long_events, _ = all_pages(client.get_execution_history, "events", executionArn=long_arn)
    last = long_events[-1]
    check(last["type"] == "ExecutionAborted", f"last event of a stopped execution {last['type']}")
    check(
        last.get("executionAbortedEventDetails")
        == {"error": "Operator.Stop", "cause": "stopped by the boto3 session"},
        f"ExecutionAborted details {last.get('executionAbortedEventDetails')}",
    )
    aborted_list, _ = all_pages(
        client.list_executions, "executions", stateMachineArn=machine_arn, statusFilter="ABORTED"
    )
    check(
        [e["executionArn"] for e in aborted_list] == [long_arn],
        f"ABORTED executions {aborted_list}",
    )

    # --- Tags -----------------------------------------------------------------------------------
    def tags_of(arn):
        return {
            t["key"]: t["value"] for t in client.list_tags_for_resource(resourceArn=arn)["tags"]
        }

    check(
        tags_of(machine_arn) == {"team": "core"},
        f"tags from CreateStateMachine {tags_of(machine_arn)}",
    )
    client.tag_resource(
        resourceArn=machine_arn,
        tags=[{"key": "env", "value": "test"}, {"key": "team", "value": "api"}],
    )
    check(
        tags_of(machine_arn) == {"team": "api", "env": "test"},
        f"tags after TagResource {tags_of(machine_arn)}",
    )
    client.untag_resource(resourceArn=machine_arn, tagKeys=["team"])
    check(
        tags_of(machine_arn) == {"env": "test"}, f"tags after UntagResource {tags_of(machine_arn)}"
    )
    check(tags_of(express_arn) == {}, f"an untagged machine has no tags: {tags_of(express_arn)}")
    expect_error(
        client.exceptions.ResourceNotFound,
        client.tag_resource,
        resourceArn=missing_machine,
        tags=[{"key": "a", "value": "b"}],
    )
    expect_error(
        client.exceptions.ResourceNotFound,
        client.list_tags_for_resource,
        resourceArn=missing_machine,
    )

    # --- DeleteStateMachine ---------------------------------------------------------------------
    for arn in (machine_arn, express_arn):
        client.delete_state_machine(stateMachineArn=arn)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            try:
                status = client.describe_state_machine(stateMachineArn=arn).get("status")
            except client.exceptions.StateMachineDoesNotExist:
                break
            # Spec: deletion is asynchronous; the machine is DELETING until it is gone.
            check(status == "DELETING", f"{arn}: status {status} after DeleteStateMachine")
            check(time.monotonic() < deadline, f"{arn}: still DELETING after {TIMEOUT_SECONDS}s")
            time.sleep(POLL_SECONDS)
    # Spec: DeleteStateMachine of a state machine that does not exist succeeds.
    client.delete_state_machine(stateMachineArn=machine_arn)
    remaining, _ = all_pages(client.list_state_machines, "stateMachines")
    check(
        not {machine_arn, express_arn} & {m["stateMachineArn"] for m in remaining},
        "ListStateMachines no longer lists deleted machines",
    )


def callbacks_and_activities(client):
    """The callback pattern (.waitForTaskToken + SendTask*) and an activity worker."""
    suffix = uuid.uuid4().hex[:8]

    # --- .waitForTaskToken: the token arrives in the task's parameters ---------------------------
    callback_definition = json.dumps({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 60,
                "Catch": [{"ErrorEquals": ["Job.Failed"], "ResultPath": "$.failure", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    })
    machine = client.create_state_machine(
        name=f"callback-{suffix}", definition=callback_definition, roleArn=ROLE_ARN
    )["stateMachineArn"]

    def token_of(execution_arn):
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            for event in client.get_execution_history(executionArn=execution_arn)["events"]:
                details = event.get("taskScheduledEventDetails")
                if details:
                    return json.loads(details["parameters"])["MessageBody"]["token"]
            check(time.monotonic() < deadline, "the callback task was scheduled")
            time.sleep(POLL_SECONDS)

    ok_run = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    token = token_of(ok_run)
    check(isinstance(token, str) and token, "$$.Task.Token is a non-empty string")
    client.send_task_heartbeat(taskToken=token)
    client.send_task_success(taskToken=token, output=json.dumps({"answer": 42}))
    done = wait_for_status(client, ok_run, "SUCCEEDED")
    check(json.loads(done["output"]) == {"answer": 42}, f"SendTaskSuccess output {done.get('output')}")
    expect_error(client.exceptions.TaskTimedOut, client.send_task_success, taskToken=token, output="{}")
    expect_error(client.exceptions.InvalidToken, client.send_task_failure, taskToken="not-a-token")

    failed_run = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    client.send_task_failure(taskToken=token_of(failed_run), error="Job.Failed", cause="disk full")
    caught = wait_for_status(client, failed_run, "SUCCEEDED")
    check(
        json.loads(caught["output"]) == {"failure": {"Error": "Job.Failed", "Cause": "disk full"}},
        f"SendTaskFailure went through Catch: {caught.get('output')}",
    )

    # --- Activities ----------------------------------------------------------------------------
    activity = client.create_activity(name=f"resize-{suffix}")["activityArn"]
    check(activity.endswith(f":activity:resize-{suffix}"), f"activity ARN {activity}")
    described = client.describe_activity(activityArn=activity)
    check(described["name"] == f"resize-{suffix}" and is_time(described["creationDate"]), "DescribeActivity")
    listed, _ = all_pages(client.list_activities, "activities")
    check(activity in {a["activityArn"] for a in listed}, "ListActivities lists the activity")
    worker_machine = client.create_state_machine(
        name=f"activity-{suffix}",
        definition=json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity, "End": True}}}),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    run = client.start_execution(stateMachineArn=worker_machine, input=json.dumps({"image": "cat.png"}))["executionArn"]
    task = client.get_activity_task(activityArn=activity, workerName="w1")
    check(task.get("taskToken"), "GetActivityTask returns the task")
    check(json.loads(task["input"]) == {"image": "cat.png"}, f"activity task input {task.get('input')}")
    client.send_task_success(taskToken=task["taskToken"], output=json.dumps({"resized": True}))
    finished = wait_for_status(client, run, "SUCCEEDED")
    check(json.loads(finished["output"]) == {"resized": True}, "the activity worker's output is the task result")
    client.delete_activity(activityArn=activity)
    expect_error(client.exceptions.ActivityDoesNotExist, client.describe_activity, activityArn=activity)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--endpoint", required=True, help="stepfn serve's URL, e.g. http://127.0.0.1:8083"
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="report every failed check, not only the first"
    )
    args = parser.parse_args()
    global FAILURES
    if args.keep_going:
        FAILURES = []
    if not __debug__:
        sys.exit("boto3 session: run without -O (the checks are asserts)")

    client = boto3.client(
        "stepfunctions",
        endpoint_url=args.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            # StartSyncExecution's model puts "sync-" in front of the host, which would turn
            # 127.0.0.1 into a name that does not resolve.
            inject_host_prefix=False,
            # One attempt: a retried request would hide a 5xx.
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=5,
            # GetActivityTask long-polls for up to 60 s.
            read_timeout=65,
        ),
    )
    # The sections in other files share this module's counters (not a second copy of it).
    sys.modules.setdefault("boto3_session", sys.modules[__name__])
    import boto3_redrive
    import boto3_test_state
    import boto3_versions

    try:
        session(client)
        callbacks_and_activities(client)
        boto3_versions.versions_and_aliases(client, uuid.uuid4().hex[:8])
        boto3_test_state.test_state(client)
        boto3_redrive.redrive(client, uuid.uuid4().hex[:8])
    except AssertionError as failure:
        print(f"boto3 session: FAILED at check {CHECKS}: {failure}", file=sys.stderr)
        return 1
    if FAILURES:
        print(f"boto3 session: {len(FAILURES)} of {CHECKS} checks failed", file=sys.stderr)
        return 1
    print(f"boto3 session: {CHECKS} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
