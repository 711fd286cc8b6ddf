#!/usr/bin/env python3
"""A Distributed Map's error paths and its ResultWriter's WriterConfig, through `stepfn serve`
with boto3, against a real local S3 (moto).

    venv="$(bash infra/python-clients.sh)"
    "$venv/bin/python" tests/clients/distributed_errors.py --stepfn target/debug/stepfn \
        --moto http://127.0.0.1:PORT --serve http://127.0.0.1:PORT2

`--serve` is a `stepfn serve` started with AWS_ENDPOINT_URL pointing at the same moto. Each
case creates a state machine with boto3's Step Functions client, starts it and waits for its
end: a missing bucket or key of an ItemReader, a ResultWriter to a missing bucket, results over
256 KiB, an item over the 256 KiB of a batch, a bad ItemBatcher value (at run time and at
CreateStateMachine), a bad WriterConfig refused at CreateStateMachine with nothing stored; and
the files a WriterConfig (FLATTEN, JSONL; NONE, JSON) makes, read back with boto3's S3 client.

Prints `distributed errors: N checks passed` and exits 0, or the failed check and exits 1.
"""

import argparse
import json
import os
import re
import sys
import time
import uuid

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aws_services as base  # noqa: E402  (the shared check)

check = base.check
REGION = base.REGION
# moto sends no extended request ID (S3's x-amz-id-2); AWS does.
S3_TAIL = (r" \(Service: S3, Status Code: 404, Request ID: [^,()]+"
           r"(, Extended Request ID: [^()]+)?\)")
TOO_BIG = ("The state/task 'Fan' returned a result with a size exceeding the maximum number "
           "of bytes service limit.")


def fan(work=None, **more):
    """A machine of one Distributed Map `Fan` with STANDARD children running `work`."""
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": work or {"Type": "Pass", "End": True}},
        },
        "End": True,
    }
    state.update(more)
    return {"StartAt": "Fan", "States": {"Fan": state}}


def reader(bucket, key):
    return {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": bucket, "Key": key}}


class Serve:
    """The Step Functions client of `stepfn serve`."""

    def __init__(self, endpoint):
        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=REGION,
                                aws_access_key_id="test", aws_secret_access_key="test")

    def create(self, definition, prefix="dmerr"):
        return self.sfn.create_state_machine(
            name=f"{prefix}-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
            roleArn=base.ROLE_ARN)["stateMachineArn"]

    def run(self, definition, payload=None):
        machine = self.create(definition)
        execution = self.sfn.start_execution(stateMachineArn=machine,
                                             input=json.dumps(payload or {}))["executionArn"]
        deadline = time.time() + 90
        while True:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            if time.time() > deadline:
                check(False, f"the execution did not end: {described}")
            time.sleep(0.1)


def failed(got, error, cause, what):
    """`got` failed with `error`, its cause matching the regex `cause` whole."""
    check(got["status"] == "FAILED", f"{what}: {got}")
    check(got.get("error") == error, f"{what}: error {got.get('error')!r}, not {error!r}")
    check(re.fullmatch(cause, got.get("cause", "")) is not None,
          f"{what}: cause {got.get('cause')!r} !~ {cause!r}")


def s3_errors(serve, bucket):
    missing = f"{bucket}-missing"
    got = serve.run(fan(ItemReader=reader(missing, "items.json")))
    failed(got, "S3.NoSuchBucketException", "The specified bucket does not exist" + S3_TAIL,
           "an ItemReader of a missing bucket")
    got = serve.run(fan(ItemReader=reader(bucket, "nothing.json")))
    failed(got, "S3.NoSuchKeyException", r"The specified key does not exist\." + S3_TAIL,
           "an ItemReader of a missing key")
    got = serve.run(fan(ItemReader=reader(bucket, "items.json"),
                        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                      "Parameters": {"Bucket": missing, "Prefix": "out"}}))
    failed(got, "States.ResultWriterFailed",
           rf"The ResultWriter could not write s3://{missing}/out/[0-9a-f-]{{36}}/SUCCEEDED_0\.json: "
           r"S3\.NoSuchBucketException: The specified bucket does not exist" + S3_TAIL,
           "a ResultWriter to a missing bucket")
    (run,) = serve.sfn.list_map_runs(executionArn=got["executionArn"])["mapRuns"]
    d = serve.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    check(d["status"] == "FAILED" and d["executionCounts"]["succeeded"] == 3,
          f"the Map Run whose results could not be written failed: {d}")
    types = [e["type"] for e in
             serve.sfn.get_execution_history(executionArn=got["executionArn"])["events"]]
    check(types[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"],
          f"the parent's history: {types}")


def limits(serve):
    big = {"Type": "Pass", "Result": "x" * 70_000, "End": True}
    got = serve.run(fan(big), [1, 2, 3, 4])
    failed(got, "States.DataLimitExceeded", re.escape(TOO_BIG), "results over 256 KiB")
    history = serve.sfn.get_execution_history(executionArn=got["executionArn"])["events"]
    types = [e["type"] for e in history]
    check("MapRunSucceeded" in types and types[-1] == "ExecutionFailed",
          f"the Map Run succeeded, the state failed on its result: {types}")

    batched = {"MaxItemsPerBatch": 2, "BatchInput": {"pad": "y" * 60_000}}
    got = serve.run(fan(ItemBatcher=batched), ["z" * 205_000])
    failed(got, "States.DataLimitExceeded",
           re.escape("An item of the batch is over the 256 KiB limit of a child execution's input"),
           "an item over the 256 KiB of a batch")

    got = serve.run(fan(ItemsPath="$.items", ItemBatcher={"MaxItemsPerBatchPath": "$.size"}),
                    {"items": [1], "size": "many"})
    failed(got, "States.Runtime",
           re.escape("An error occurred while executing the state 'Fan' (entered at the event "
                     "id #2). The MaxItemsPerBatch field refers to value \"many\" which is not "
                     "a valid positive integer"), "a bad MaxItemsPerBatchPath")


def refused_definitions(serve):
    before = serve.sfn.list_state_machines()["stateMachines"]
    cases = [
        (fan(ResultWriter={"WriterConfig": {"OutputType": "CSV"}}),
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'OutputType' "
         "should have one of these values: [JSON, JSONL] at "
         "/States/Fan/ResultWriter/WriterConfig/OutputType'"),
        (fan(ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                           "Parameters": {"Bucket": "b"},
                           "WriterConfig": {"Transformation": "SQUASH"}}),
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Transformation' "
         "should have one of these values: [NONE, COMPACT, FLATTEN] at "
         "/States/Fan/ResultWriter/WriterConfig/Transformation'"),
    ]
    for definition, message in cases:
        try:
            serve.create(definition)
            check(False, f"refused: {definition}")
        except serve.sfn.exceptions.InvalidDefinition as e:
            check(e.response["Error"]["Message"] == message,
                  f"the refusal's text: {e.response['Error']['Message']!r}")
    try:
        serve.create(fan(ItemBatcher={"MaxInputBytesPerBatch": 300_000}))
        check(False, "a MaxInputBytesPerBatch over 256 KiB is refused")
    except serve.sfn.exceptions.InvalidDefinition as e:
        check("/States/Fan/ItemBatcher/MaxInputBytesPerBatch" in e.response["Error"]["Message"],
              f"a bad ItemBatcher value: {e.response['Error']['Message']!r}")
    after = serve.sfn.list_state_machines()["stateMachines"]
    check(after == before, f"nothing stored: {len(before)} machines before, {len(after)} after")


def writer_files(serve, s3, bucket):
    # A child's output is an array; the child of item 3 fails, tolerated.
    work = {"Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericEquals": 3, "Next": "Boom"}],
            "Default": "Pair"}
    machine = fan(work, ItemReader=reader(bucket, "items.json"), ToleratedFailureCount=1,
                  ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                "Parameters": {"Bucket": bucket, "Prefix": "flat"},
                                "WriterConfig": {"Transformation": "FLATTEN",
                                                 "OutputType": "JSONL"}})
    machine["States"]["Fan"]["ItemProcessor"]["States"].update({
        "Pair": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($.n, $.n)"},
                 "OutputPath": "$.pair", "End": True},
        "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "three"},
    })
    machine["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Work"
    got = serve.run(machine)
    check(got["status"] == "SUCCEEDED", f"a WriterConfig export: {got}")
    out = json.loads(got["output"])
    run_id = out["MapRunArn"].rsplit(":", 1)[-1]
    key = out["ResultWriterDetails"]["Key"]
    check(key == f"flat/{run_id}/manifest.json", f"the manifest's key: {out}")
    raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    manifest = json.loads(raw)
    check(list(manifest) == ["DestinationBucket", "MapRunArn", "ResultFiles"]
          and list(manifest["ResultFiles"]) == ["FAILED", "PENDING", "SUCCEEDED"],
          f"the manifest's keys in AWS's order: {raw}")
    check(manifest["ResultFiles"]["PENDING"] == [], f"no PENDING file: {raw}")
    (ok,) = manifest["ResultFiles"]["SUCCEEDED"]
    body = s3.get_object(Bucket=bucket, Key=ok["Key"])["Body"].read().decode()
    check(ok["Key"] == f"flat/{run_id}/SUCCEEDED_0.json" and ok["Size"] == len(body.encode()),
          f"the SUCCEEDED file: {ok} of {len(body)} bytes")
    check(body == "1\n1\n2\n2\n", f"FLATTEN as JSON Lines: {body!r}")
    (bad,) = manifest["ResultFiles"]["FAILED"]
    lines = s3.get_object(Bucket=bucket, Key=bad["Key"])["Body"].read().decode().splitlines()
    check(len(lines) == 1, f"one failed child: {lines}")
    entry = json.loads(lines[0])
    check(list(entry)[:6] == ["Cause", "Error", "ExecutionArn", "Input", "InputDetails", "Name"]
          and entry["Error"] == "Boom" and entry["Cause"] == "three"
          and entry["Status"] == "FAILED" and entry["Input"] == '{"n":3}',
          f"a failed child unchanged: {entry}")
    child = serve.sfn.describe_execution(executionArn=entry["ExecutionArn"])
    check(child["status"] == "FAILED" and child["mapRunArn"] == out["MapRunArn"],
          f"the entry names the child: {child}")

    machine = fan(ItemReader=reader(bucket, "items.json"),
                  ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                "Parameters": {"Bucket": bucket, "Prefix": "whole"},
                                "WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}})
    got = serve.run(machine)
    out = json.loads(got["output"])
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=out["ResultWriterDetails"]["Key"])
                          ["Body"].read())
    (ok,) = manifest["ResultFiles"]["SUCCEEDED"]
    entries = json.loads(s3.get_object(Bucket=bucket, Key=ok["Key"])["Body"].read())
    check(len(entries) == 3, f"NONE lists every child: {entries}")
    check(list(entries[0]) == ["ExecutionArn", "Input", "InputDetails", "Name", "Output",
                               "OutputDetails", "RedriveCount", "RedriveStatus",
                               "RedriveStatusReason", "StartDate", "StateMachineArn", "Status",
                               "StopDate"], f"NONE's fields in AWS's order: {entries[0]}")
    check(sorted(json.loads(e["Output"])["n"] for e in entries) == [1, 2, 3],
          f"Output as a string: {entries}")
    check(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["StartDate"])
              for e in entries), f"ISO dates with milliseconds: {entries}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stepfn", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--serve", required=True)
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.moto, region_name=REGION,
                      aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"dmerr-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="items.json",
                  Body=json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]))
    serve = Serve(args.serve)
    s3_errors(serve, bucket)
    limits(serve)
    refused_definitions(serve)
    writer_files(serve, s3, bucket)
    print(f"distributed errors: {base.CHECKS} checks passed")


if __name__ == "__main__":
    main()
