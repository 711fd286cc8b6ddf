#!/usr/bin/env python3
"""Distributed Map against a real local S3 (moto), run by stepfn, checked with boto3.

    venv="$(bash infra/python-clients.sh)"
    "$venv/bin/python" tests/clients/distributed_map.py --stepfn target/debug/stepfn \
        --moto http://127.0.0.1:PORT --serve http://127.0.0.1:PORT2

`--serve` is a `stepfn serve` started with AWS_ENDPOINT_URL pointing at the same moto. The
script puts the objects with boto3, runs Distributed Maps with `stepfn run` (ItemReader of a
JSON array, a CSV with its header row and MaxItems, JSON Lines, an S3 prefix listing; a
ResultWriter whose manifest and result files boto3 reads back; a missing object), then one
through serve and the Map Run API with boto3's Step Functions client (ListMapRuns,
DescribeMapRun, ListExecutions by mapRunArn, DescribeExecution of a child, UpdateMapRun) and
StopExecution of a parent aborting its Map Run and its running child.

Prints `distributed map: N checks passed` and exits 0, or the failed check and exits 1.
"""

import argparse
import json
import os
import sys
import time
import uuid

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aws_services as base  # noqa: E402  (the shared Run and check)

check = base.check
REGION = base.REGION


def fan(reader=None, processor=None, **more):
    """A machine of one Distributed Map with STANDARD children."""
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": processor or {"Type": "Pass", "End": True}},
        },
        "End": True,
    }
    if reader is not None:
        state["ItemReader"] = reader
    state.update(more)
    return {"StartAt": "Fan", "States": {"Fan": state}}


def get_object(bucket, key, input_type=None, **config):
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "Parameters": {"Bucket": bucket, "Key": key}}
    if input_type:
        reader["ReaderConfig"] = dict(InputType=input_type, **config)
    return reader


DOUBLE = {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.n, $.n)"}, "End": True}


def readers(run, s3, bucket):
    s3.put_object(Bucket=bucket, Key="items.json", Body=json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]))
    s3.put_object(Bucket=bucket, Key="rows.csv", Body="id,name\n1,ann\n2,bob\n3,cy\n")
    s3.put_object(Bucket=bucket, Key="rows.jsonl", Body='{"n": 5}\n{"n": 6}\n')
    s3.put_object(Bucket=bucket, Key="logs/a.txt", Body="a")
    s3.put_object(Bucket=bucket, Key="logs/b.txt", Body="bb")

    got = run(fan(get_object(bucket, "items.json", "JSON"), DOUBLE))
    check(got["status"] == "SUCCEEDED", f"JSON ItemReader: {got}")
    check(got["output"] == [{"d": 2}, {"d": 4}, {"d": 6}], f"JSON ItemReader output: {got['output']}")

    got = run(fan(get_object(bucket, "rows.csv", "CSV", CSVHeaderLocation="FIRST_ROW", MaxItems=2)))
    check(got["status"] == "SUCCEEDED", f"CSV ItemReader: {got}")
    check(got["output"] == [{"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}],
          f"CSV rows are objects of strings, MaxItems 2: {got['output']}")

    got = run(fan(get_object(bucket, "rows.jsonl", "JSONL"), DOUBLE))
    check(got["status"] == "SUCCEEDED", f"JSONL ItemReader: {got}")
    check(got["output"] == [{"d": 10}, {"d": 12}], f"JSONL ItemReader output: {got['output']}")

    listing = {"Resource": "arn:aws:states:::s3:listObjectsV2",
               "Parameters": {"Bucket": bucket, "Prefix": "logs/"}}
    got = run(fan(listing, {"Type": "Pass", "Parameters": {"key.$": "$.Key", "size.$": "$.Size"},
                            "End": True}))
    check(got["status"] == "SUCCEEDED", f"listObjectsV2 ItemReader: {got}")
    check(got["output"] == [{"key": "logs/a.txt", "size": 1}, {"key": "logs/b.txt", "size": 2}],
          f"listObjectsV2 items: {got['output']}")

    got = run(fan(get_object(bucket, "missing.json", "JSON")))
    check(got["status"] == "FAILED", f"a missing object fails: {got}")
    check(got.get("error") == "S3.NoSuchKeyException", f"missing object error: {got}")
    check("The specified key does not exist" in got.get("cause", ""), f"missing object cause: {got}")


def writer(run, s3, bucket):
    machine = fan(get_object(bucket, "items.json", "JSON"), DOUBLE,
                  ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                "Parameters": {"Bucket": bucket, "Prefix": "out"}})
    got = run(machine)
    check(got["status"] == "SUCCEEDED", f"ResultWriter: {got}")
    out = got["output"]
    details = out.get("ResultWriterDetails", {})
    map_run = out.get("MapRunArn", "")
    check(":mapRun:" in map_run, f"ResultWriter output names the Map Run: {out}")
    check(details.get("Bucket") == bucket, f"ResultWriterDetails bucket: {out}")
    run_id = map_run.rsplit(":", 1)[-1]
    check(details.get("Key") == f"out/{run_id}/manifest.json", f"manifest key: {out}")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=details["Key"])["Body"].read())
    check(manifest["MapRunArn"] == map_run and manifest["DestinationBucket"] == bucket,
          f"manifest: {manifest}")
    succeeded = manifest["ResultFiles"]["SUCCEEDED"]
    check(len(succeeded) == 1 and succeeded[0]["Key"] == f"out/{run_id}/SUCCEEDED_0.json",
          f"one SUCCEEDED file: {manifest}")
    check(manifest["ResultFiles"]["FAILED"] == [], f"no FAILED file: {manifest}")
    body = s3.get_object(Bucket=bucket, Key=succeeded[0]["Key"])["Body"].read()
    check(succeeded[0]["Size"] == len(body), f"manifest size {succeeded[0]} of {len(body)} bytes")
    entries = json.loads(body)
    outputs = sorted(json.loads(e["Output"])["d"] for e in entries)
    check(outputs == [2, 4, 6], f"SUCCEEDED_0.json outputs: {entries}")
    check(all(e["Status"] == "SUCCEEDED" and e["ExecutionArn"] for e in entries),
          f"SUCCEEDED_0.json entries: {entries}")


def through_serve(serve, bucket):
    sfn = boto3.client("stepfunctions", endpoint_url=serve, region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test")
    definition = fan(get_object(bucket, "items.json", "JSON"), DOUBLE, Label="twice",
                     ToleratedFailurePercentage=50)
    machine = sfn.create_state_machine(name=f"dmap-{uuid.uuid4().hex[:6]}",
                                       definition=json.dumps(definition),
                                       roleArn=base.ROLE_ARN)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.time() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.time() > deadline:
            break
        time.sleep(0.1)
    check(described["status"] == "SUCCEEDED", f"served Distributed Map: {described}")
    check(json.loads(described["output"]) == [{"d": 2}, {"d": 4}, {"d": 6}], f"output: {described}")

    runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    check(len(runs) == 1, f"ListMapRuns: {runs}")
    map_run = runs[0]["mapRunArn"]
    check(runs[0]["stateMachineArn"] == f"{machine}/twice", f"child machine: {runs[0]}")
    d = sfn.describe_map_run(mapRunArn=map_run)
    check(d["status"] == "SUCCEEDED" and d["executionArn"] == execution, f"DescribeMapRun: {d}")
    check(d["toleratedFailurePercentage"] == 50.0 and d["maxConcurrency"] == 0, f"settings: {d}")
    check(d["itemCounts"]["total"] == 3 and d["itemCounts"]["succeeded"] == 3, f"items: {d}")
    check(d["executionCounts"]["succeeded"] == 3 and d["executionCounts"]["failed"] == 0,
          f"executions: {d}")
    check(d["stopDate"] >= d["startDate"], f"dates: {d}")

    children = sfn.list_executions(mapRunArn=map_run)["executions"]
    check(len(children) == 3, f"ListExecutions by mapRunArn: {children}")
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    check(child["mapRunArn"] == map_run, f"a child names its Map Run: {child}")
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    check(not any("/" in n for n in names), f"child machines are not listed: {names}")

    sfn.update_map_run(mapRunArn=map_run, maxConcurrency=4, toleratedFailureCount=1)
    d = sfn.describe_map_run(mapRunArn=map_run)
    check(d["maxConcurrency"] == 4 and d["toleratedFailureCount"] == 1, f"after UpdateMapRun: {d}")
    try:
        sfn.describe_map_run(mapRunArn=f"{map_run}x")
        check(False, "an unknown Map Run is not described")
    except sfn.exceptions.ResourceNotFound as e:
        check("Resource not found" in str(e), f"unknown Map Run: {e}")


def wait_for(what, probe, seconds=30):
    """Polls `probe` until it answers something truthy."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.1)
    check(False, f"timed out waiting for {what}")


def stop_aborts_the_map_run(serve):
    sfn = boto3.client("stepfunctions", endpoint_url=serve, region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test")
    definition = fan(None, {"Type": "Wait", "Seconds": 60, "End": True}, MaxConcurrency=1)
    machine = sfn.create_state_machine(name=f"dmap-stop-{uuid.uuid4().hex[:6]}",
                                       definition=json.dumps(definition),
                                       roleArn=base.ROLE_ARN)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="[1, 2, 3]")["executionArn"]
    runs = wait_for("the Map Run", lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])
    map_run = runs[0]["mapRunArn"]
    running = wait_for("a running child", lambda: [
        e for e in sfn.list_executions(mapRunArn=map_run)["executions"] if e["status"] == "RUNNING"])
    check(len(running) == 1, f"MaxConcurrency 1 runs one child: {running}")
    sfn.stop_execution(executionArn=execution, error="Halt", cause="enough")
    wait_for("the parent aborted",
             lambda: sfn.describe_execution(executionArn=execution)["status"] == "ABORTED")
    events = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    check(events[-2:] == ["MapRunAborted", "ExecutionAborted"], f"parent history: {events}")
    d = sfn.describe_map_run(mapRunArn=map_run)
    check(d["status"] == "ABORTED" and "stopDate" in d, f"the Map Run is aborted: {d}")
    wait_for("the child aborted", lambda: sfn.describe_execution(
        executionArn=running[0]["executionArn"])["status"] == "ABORTED")
    time.sleep(1.5)
    children = sfn.list_executions(mapRunArn=map_run)["executions"]
    check(len(children) == 1, f"no child starts after the stop: {children}")
    check(sfn.describe_map_run(mapRunArn=map_run)["status"] == "ABORTED",
          "the Map Run stays aborted")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stepfn", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--serve", required=True)
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.moto, region_name=REGION,
                      aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"dmap-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    run = base.Run(args.stepfn, args.moto)
    readers(run, s3, bucket)
    writer(run, s3, bucket)
    through_serve(args.serve, bucket)
    stop_aborts_the_map_run(args.serve)
    print(f"distributed map: {base.CHECKS} checks passed")


if __name__ == "__main__":
    main()
