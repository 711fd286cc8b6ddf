#!/usr/bin/env python3
"""EventBridge Scheduler through boto3's `scheduler` client against a running `stepfn serve`.

    venv="$(bash infra/python-clients.sh)"
    "$venv/bin/python" tests/clients/boto3_scheduler.py --endpoint http://127.0.0.1:PORT

Every call goes through botocore's REST-JSON serializer, parser and modeled exceptions
(`client.exceptions.ResourceNotFoundException`, ...), so a pass means the client takes the
endpoint for EventBridge Scheduler. Messages follow AWS's (LocalStack's AWS-validated recordings
of tests/aws/services/scheduler for schedule expressions). Names carry a random suffix, so the
session can run again against the same server.

Prints `boto3 scheduler: N checks passed` and exits 0, or the failed check and exits 1.
"""

import argparse
import datetime
import sys
import uuid

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nightly"

CHECKS = 0


def check(condition, message):
    global CHECKS
    CHECKS += 1
    assert condition, message


def expect_error(exception, status, message, call, **kwargs):
    """Runs `call(**kwargs)`, which must raise the modeled `exception` with `status` and
    `message`."""
    name = exception.__name__
    try:
        call(**kwargs)
    except exception as error:
        meta = error.response["ResponseMetadata"]
        check(meta["HTTPStatusCode"] == status, f"{name}: HTTP {meta['HTTPStatusCode']}, expected {status}")
        check(error.response["Error"]["Code"] == name, f"{name}: code {error.response['Error']}")
        got = error.response["Error"]["Message"]
        check(got == message, f"{name}: message {got!r}, expected {message!r}")
        return
    raise AssertionError(f"{call.__name__} did not raise {name}")


def target(**extra):
    return {"Arn": MACHINE_ARN, "RoleArn": ROLE_ARN, **extra}


def listed(client, **kwargs):
    """Every schedule ListSchedules answers (all pages), as (group, name, state)."""
    out = []
    for page in client.get_paginator("list_schedules").paginate(**kwargs):
        out += [(s["GroupName"], s["Name"], s["State"]) for s in page["Schedules"]]
    return sorted(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    client = boto3.client(
        "scheduler",
        endpoint_url=args.endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )
    suffix = uuid.uuid4().hex[:8]
    group = f"boto3-{suffix}"

    created = client.create_schedule_group(
        Name=group, Tags=[{"Key": "stepfn:overlap", "Value": "skip"}])
    group_arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
    check(created["ScheduleGroupArn"] == group_arn, f"CreateScheduleGroup: {created}")
    got = client.get_schedule_group(Name=group)
    check(got["State"] == "ACTIVE" and isinstance(got["CreationDate"], datetime.datetime),
          f"GetScheduleGroup: {got}")

    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=30)
    arn = client.create_schedule(
        Name="hourly", GroupName=group, ScheduleExpression="rate(1 hour)",
        StartDate=start, EndDate=end, FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
        Target=target(Input='{"kind": "hourly"}', RetryPolicy={"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 2}),
        ActionAfterCompletion="NONE",
    )["ScheduleArn"]
    check(arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/hourly", f"CreateSchedule: {arn}")
    got = client.get_schedule(Name="hourly", GroupName=group)
    check(got["StartDate"] == start and got["EndDate"] == end, f"dates round-trip: {got}")
    check(got["ScheduleExpressionTimezone"] == "UTC", f"UTC by default: {got}")
    check(got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 2},
          f"RetryPolicy: {got}")
    check(got["Target"]["Input"] == '{"kind": "hourly"}', f"Input: {got}")
    check(got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}, f"window: {got}")

    client.create_schedule(
        Name="once", GroupName=group, ScheduleExpression="at(2030-06-01T12:00:00)",
        ScheduleExpressionTimezone="America/New_York", FlexibleTimeWindow={"Mode": "OFF"},
        Target=target(), State="DISABLED", ActionAfterCompletion="DELETE", ClientToken=suffix,
    )
    check(listed(client, GroupName=group) == [(group, "hourly", "ENABLED"), (group, "once", "DISABLED")],
          f"ListSchedules: {listed(client, GroupName=group)}")
    check(listed(client, GroupName=group, State="DISABLED") == [(group, "once", "DISABLED")],
          "ListSchedules by State")
    page = client.list_schedules(GroupName=group, MaxResults=1)
    check(len(page["Schedules"]) == 1 and page.get("NextToken"), f"a page of one: {page}")

    updated = client.update_schedule(
        Name="hourly", GroupName=group, ScheduleExpression="rate(2 hours)",
        FlexibleTimeWindow={"Mode": "OFF"}, Target=target(), State="DISABLED",
    )
    check(updated["ScheduleArn"] == arn, f"UpdateSchedule: {updated}")
    got = client.get_schedule(Name="hourly", GroupName=group)
    check(got["ScheduleExpression"] == "rate(2 hours)" and got["State"] == "DISABLED"
          and "StartDate" not in got and got["FlexibleTimeWindow"] == {"Mode": "OFF"}
          and got["LastModificationDate"] >= got["CreationDate"],
          f"an update replaces the schedule: {got}")

    client.tag_resource(ResourceArn=group_arn, Tags=[{"Key": "team", "Value": "data"}])
    tags = client.list_tags_for_resource(ResourceArn=group_arn)["Tags"]
    check(tags == [{"Key": "stepfn:overlap", "Value": "skip"}, {"Key": "team", "Value": "data"}],
          f"ListTagsForResource: {tags}")
    client.untag_resource(ResourceArn=group_arn, TagKeys=["team", "stepfn:overlap"])
    check(client.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [], "UntagResource")

    # Errors: the modeled exceptions with AWS's status and message, and nothing changes.
    before = listed(client)
    ex = client.exceptions
    expect_error(ex.ValidationException, 400, "Invalid Schedule Expression rate(10 seconds).",
                 client.create_schedule, Name="bad", GroupName=group, ScheduleExpression="rate(10 seconds)",
                 FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    expect_error(ex.ValidationException, 400, "Invalid ScheduleExpressionTimezone Moon/Base.",
                 client.create_schedule, Name="bad", GroupName=group, ScheduleExpression="rate(1 day)",
                 ScheduleExpressionTimezone="Moon/Base", FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    expect_error(ex.ValidationException, 400, "Invalid Schedule Expression rate(3 days.",
                 client.update_schedule, Name="hourly", GroupName=group, ScheduleExpression="rate(3 days",
                 FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    expect_error(ex.ConflictException, 409, "Schedule hourly already exists.",
                 client.create_schedule, Name="hourly", GroupName=group, ScheduleExpression="rate(1 day)",
                 FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    expect_error(ex.ResourceNotFoundException, 404, "Schedule missing does not exist.",
                 client.get_schedule, Name="missing", GroupName=group)
    expect_error(ex.ResourceNotFoundException, 404, "Schedule missing does not exist.",
                 client.delete_schedule, Name="missing", GroupName=group)
    expect_error(ex.ResourceNotFoundException, 404, f"Schedule group nope-{suffix} does not exist.",
                 client.create_schedule, Name="x", GroupName=f"nope-{suffix}", ScheduleExpression="rate(1 day)",
                 FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    check(client.get_schedule(Name="hourly", GroupName=group)["ScheduleExpression"] == "rate(2 hours)",
          "a refused request changed the schedule")
    check(listed(client) == before, "a refused request changed the schedules")

    client.delete_schedule(Name="once", GroupName=group)
    check(listed(client, GroupName=group) == [(group, "hourly", "DISABLED")], "DeleteSchedule")
    client.delete_schedule_group(Name=group)
    expect_error(ex.ResourceNotFoundException, 404, f"Schedule group {group} does not exist.",
                 client.get_schedule_group, Name=group)
    check(all(g != group for g, _, _ in listed(client)), "DeleteScheduleGroup deletes its schedules")
    names = [g["Name"] for g in client.list_schedule_groups()["ScheduleGroups"]]
    check(names[0] == "default" and group not in names, f"ListScheduleGroups: {names}")

    print(f"boto3 scheduler: {CHECKS} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"boto3 scheduler: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
