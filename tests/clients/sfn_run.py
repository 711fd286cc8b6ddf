#!/usr/bin/env python3
"""Runs one state machine through a `stepfn serve` with boto3's Step Functions client and prints
what `stepfn run --format json` prints: `{"status", "output", "error", "cause"}`.

    "$venv/bin/python" tests/clients/sfn_run.py --serve http://127.0.0.1:PORT \
        --definition machine.asl.json [--input '{}']

Creates the state machine (a new name each time), starts one execution, waits for it to end
(60 s at most), prints the JSON object and exits 0; exits 1 if the execution does not end.
"""

import argparse
import json
import sys
import time
import uuid

import boto3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    parser.add_argument("--definition", required=True)
    parser.add_argument("--input", default="{}")
    args = parser.parse_args()
    sfn = boto3.client("stepfunctions", endpoint_url=args.serve, region_name="us-east-1")
    with open(args.definition, encoding="utf-8") as f:
        definition = f.read()
    machine = sfn.create_state_machine(
        name=f"run-{uuid.uuid4().hex[:12]}",
        definition=definition,
        roleArn="arn:aws:iam::111111111111:role/stepfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=args.input)["executionArn"]
    deadline = time.time() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        if time.time() > deadline:
            print(f"{execution} still running after 60 s", file=sys.stderr)
            return 1
        time.sleep(0.1)
    output = described.get("output")
    print(
        json.dumps(
            {
                "status": described["status"],
                "output": json.loads(output) if output is not None else None,
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
