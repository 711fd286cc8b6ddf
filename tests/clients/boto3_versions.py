"""Versions and aliases through boto3: part of the session in boto3_session.py.

Shapes, messages and rules follow AWS's recordings (LocalStack's AWS-validated snapshots of
test_sfn_api_versioning and test_sfn_api_aliasing) and the API reference.
"""

import json
from collections import Counter

from boto3_session import ROLE_ARN, check, expect_error, is_time, wait_for_status


def pass_machine(comment):
    return json.dumps({
        "Comment": comment,
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": {"from": comment}, "End": True}},
    })


def versions(client, suffix):
    name = f"versioned-{suffix}"
    created = client.create_state_machine(
        name=name, definition=pass_machine("v1"), roleArn=ROLE_ARN, publish=True,
        versionDescription="first",
    )
    machine = created["stateMachineArn"]
    check(created["stateMachineVersionArn"] == f"{machine}:1", f"publish on create: {created}")
    v1 = client.describe_state_machine(stateMachineArn=f"{machine}:1")
    check(v1["stateMachineArn"] == f"{machine}:1" and v1["description"] == "first",
          f"DescribeStateMachine of a version: {v1}")
    check("description" not in client.describe_state_machine(stateMachineArn=machine),
          "the state machine itself has no version description")
    expect_error(client.exceptions.ValidationException, client.create_state_machine,
                 name=f"nodesc-{suffix}", definition=pass_machine("x"), roleArn=ROLE_ARN,
                 versionDescription="no publish")

    # An update that changes nothing makes no revision; publishing it answers version 1.
    same = client.update_state_machine(stateMachineArn=machine, definition=pass_machine("v1"), publish=True)
    check(same["stateMachineVersionArn"] == f"{machine}:1" and "revisionId" not in same,
          f"an unchanged update publishes nothing new: {same}")

    updated = client.update_state_machine(stateMachineArn=machine, definition=pass_machine("v2"))
    revision = updated["revisionId"]
    published = client.publish_state_machine_version(
        stateMachineArn=machine, revisionId=revision, description="second")
    check(published["stateMachineVersionArn"] == f"{machine}:2" and is_time(published["creationDate"]),
          f"PublishStateMachineVersion: {published}")
    again = client.publish_state_machine_version(stateMachineArn=machine)
    check(again["stateMachineVersionArn"] == f"{machine}:2", "publishing the same revision is idempotent")
    check(client.describe_state_machine(stateMachineArn=f"{machine}:2")["revisionId"] == revision,
          "the version keeps the revision it was published from")

    client.update_state_machine(stateMachineArn=machine, definition=pass_machine("v3"))
    conflict = expect_error(client.exceptions.ConflictException, client.publish_state_machine_version,
                            stateMachineArn=machine, revisionId=revision)
    check(conflict is not None and f"for revision {revision}" in conflict.response["Error"]["Message"],
          "a stale revisionId is a conflict")
    v3 = client.update_state_machine(stateMachineArn=machine, definition=pass_machine("v3b"), publish=True)
    check(v3["stateMachineVersionArn"] == f"{machine}:3", f"publish on update: {v3}")

    listed = client.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    check([v["stateMachineVersionArn"] for v in listed] == [f"{machine}:{n}" for n in (3, 2, 1)],
          f"ListStateMachineVersions, newest first: {listed}")
    page = client.list_state_machine_versions(stateMachineArn=machine, maxResults=2)
    rest = client.list_state_machine_versions(stateMachineArn=machine, nextToken=page["nextToken"])
    check(len(page["stateMachineVersions"]) == 2 and len(rest["stateMachineVersions"]) == 1,
          "ListStateMachineVersions pages")
    expect_error(client.exceptions.StateMachineDoesNotExist, client.update_state_machine,
                 stateMachineArn=f"{machine}:2", definition=pass_machine("no"))
    expect_error(client.exceptions.StateMachineDoesNotExist, client.publish_state_machine_version,
                 stateMachineArn=f"{machine}-missing")
    expect_error(client.exceptions.InvalidArn, client.publish_state_machine_version,
                 stateMachineArn="invalid_arn")

    # Executions of a version run its definition and list under the machine and the version.
    run = client.start_execution(stateMachineArn=f"{machine}:1", input="{}")["executionArn"]
    check(run.startswith(machine.replace(":stateMachine:", ":execution:") + ":"),
          f"an execution of a version is named under the machine: {run}")
    done = wait_for_status(client, run, "SUCCEEDED")
    check(json.loads(done["output"]) == {"from": "v1"}, f"the version's definition ran: {done.get('output')}")
    check(done["stateMachineArn"] == machine and done["stateMachineVersionArn"] == f"{machine}:1"
          and "stateMachineAliasArn" not in done, f"DescribeExecution of a version's execution: {done}")
    latest = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    check(json.loads(wait_for_status(client, latest, "SUCCEEDED")["output"]) == {"from": "v3b"},
          "the machine itself runs its latest definition")
    of_version = client.list_executions(stateMachineArn=f"{machine}:1")["executions"]
    check([e["executionArn"] for e in of_version] == [run], f"ListExecutions of a version: {of_version}")
    check(of_version[0]["stateMachineVersionArn"] == f"{machine}:1", "list items name the version")
    of_machine = client.list_executions(stateMachineArn=machine)["executions"]
    check({e["executionArn"] for e in of_machine} == {run, latest}, "ListExecutions of the machine lists both")
    for_run = client.describe_state_machine_for_execution(executionArn=run)
    check(json.loads(for_run["definition"])["Comment"] == "v1" and for_run["stateMachineArn"] == machine,
          f"DescribeStateMachineForExecution shows the version's definition: {for_run}")

    client.delete_state_machine_version(stateMachineVersionArn=f"{machine}:3")
    client.delete_state_machine_version(stateMachineVersionArn=f"{machine}:3")  # gone: still fine
    expect_error(client.exceptions.StateMachineDoesNotExist, client.describe_state_machine,
                 stateMachineArn=f"{machine}:3")
    v4 = client.update_state_machine(stateMachineArn=machine, definition=pass_machine("v4"), publish=True)
    check(v4["stateMachineVersionArn"] == f"{machine}:4", "version numbers are not reused after a delete")
    return machine


def aliases(client, machine):
    alias_arn = f"{machine}:prod"
    created = client.create_state_machine_alias(
        name="prod", description="live",
        routingConfiguration=[{"stateMachineVersionArn": f"{machine}:1", "weight": 100}])
    check(created["stateMachineAliasArn"] == alias_arn and is_time(created["creationDate"]),
          f"CreateStateMachineAlias: {created}")
    same = client.create_state_machine_alias(
        name="prod", description="live",
        routingConfiguration=[{"stateMachineVersionArn": f"{machine}:1", "weight": 100}])
    check(same["stateMachineAliasArn"] == alias_arn, "creating the same alias again is idempotent")
    expect_error(client.exceptions.ConflictException, client.create_state_machine_alias,
                 name="prod", routingConfiguration=[{"stateMachineVersionArn": f"{machine}:2", "weight": 100}])
    for bad_name in ["123", "INVALID ALIAS", "ALIAS@"]:
        expect_error(client.exceptions.ValidationException, client.create_state_machine_alias, name=bad_name,
                     routingConfiguration=[{"stateMachineVersionArn": f"{machine}:1", "weight": 100}])
    bad_routes = [
        [{"stateMachineVersionArn": machine, "weight": 100}],
        [{"stateMachineVersionArn": f"{machine}:1", "weight": 50}, {"stateMachineVersionArn": f"{machine}:1", "weight": 50}],
        [{"stateMachineVersionArn": f"{machine}:1", "weight": 70}, {"stateMachineVersionArn": f"{machine}:2", "weight": 29}],
        [{"stateMachineVersionArn": f"{machine}:1", "weight": 101}],
        [{"stateMachineVersionArn": f"{machine}:{n}", "weight": w} for n, w in ((1, 50), (2, 30), (4, 20))],
    ]
    for routes in bad_routes:
        expect_error(client.exceptions.ValidationException, client.create_state_machine_alias,
                     name="bad", routingConfiguration=routes)
    sum_error = expect_error(client.exceptions.ValidationException, client.create_state_machine_alias,
                             name="bad", routingConfiguration=bad_routes[2])
    check(sum_error is not None and sum_error.response["Error"]["Message"]
          == "Sum of routing configuration weights must equal 100. Received: [70, 29]", "AWS's weight message")

    described = client.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    check(described["name"] == "prod" and described["description"] == "live"
          and described["routingConfiguration"] == [{"stateMachineVersionArn": f"{machine}:1", "weight": 100}]
          and is_time(described["updateDate"]), f"DescribeStateMachineAlias: {described}")

    run = client.start_execution(stateMachineArn=alias_arn, input="{}")["executionArn"]
    done = wait_for_status(client, run, "SUCCEEDED")
    check(done["stateMachineAliasArn"] == alias_arn and done["stateMachineVersionArn"] == f"{machine}:1"
          and json.loads(done["output"]) == {"from": "v1"}, f"an execution through an alias: {done}")
    listed = client.list_executions(stateMachineArn=alias_arn)["executions"]
    check([e["executionArn"] for e in listed] == [run] and listed[0]["stateMachineAliasArn"] == alias_arn,
          f"ListExecutions of an alias: {listed}")

    expect_error(client.exceptions.ConflictException, client.delete_state_machine_version,
                 stateMachineVersionArn=f"{machine}:1")

    # A 50/50 split between versions 1 and 2, measured over 200 starts.
    client.update_state_machine_alias(
        stateMachineAliasArn=alias_arn,
        routingConfiguration=[{"stateMachineVersionArn": f"{machine}:1", "weight": 50},
                              {"stateMachineVersionArn": f"{machine}:2", "weight": 50}])
    counts = Counter()
    runs = [client.start_execution(stateMachineArn=alias_arn)["executionArn"] for _ in range(200)]
    for arn in runs:
        counts[client.describe_execution(executionArn=arn)["stateMachineVersionArn"]] += 1
    check(counts[f"{machine}:1"] + counts[f"{machine}:2"] == 200 and 60 <= counts[f"{machine}:1"] <= 140,
          f"a 50/50 alias splits starts between its versions: {dict(counts)}")

    expect_error(client.exceptions.ResourceNotFound, client.update_state_machine_alias,
                 stateMachineAliasArn=f"{machine}:missing", description="x")
    expect_error(client.exceptions.ResourceNotFound, client.describe_state_machine_alias,
                 stateMachineAliasArn=f"{machine}:missing")
    client.create_state_machine_alias(
        name="canary", routingConfiguration=[{"stateMachineVersionArn": f"{machine}:2", "weight": 100}])
    page = client.list_state_machine_aliases(stateMachineArn=machine, maxResults=1)
    rest = client.list_state_machine_aliases(stateMachineArn=machine, nextToken=page["nextToken"])
    names = [a["stateMachineAliasArn"] for a in page["stateMachineAliases"] + rest["stateMachineAliases"]]
    check(names == [alias_arn, f"{machine}:canary"], f"ListStateMachineAliases pages in creation order: {names}")
    expect_error(client.exceptions.InvalidToken, client.list_state_machine_aliases,
                 stateMachineArn=machine, nextToken="InvalidToken")
    client.delete_state_machine_alias(stateMachineAliasArn=f"{machine}:canary")
    client.delete_state_machine_alias(stateMachineAliasArn=f"{machine}:canary")  # gone: still fine
    check([a["stateMachineAliasArn"] for a in client.list_state_machine_aliases(stateMachineArn=machine)
           ["stateMachineAliases"]] == [alias_arn], "DeleteStateMachineAlias")

    # Deleting the machine takes its versions and aliases with it.
    client.delete_state_machine(stateMachineArn=machine)
    expect_error(client.exceptions.StateMachineDoesNotExist, client.describe_state_machine,
                 stateMachineArn=f"{machine}:1")
    expect_error(client.exceptions.ResourceNotFound, client.describe_state_machine_alias,
                 stateMachineAliasArn=alias_arn)


def versions_and_aliases(client, suffix):
    machine = versions(client, suffix)
    aliases(client, machine)
