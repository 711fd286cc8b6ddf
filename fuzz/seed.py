#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets, fuzz/corpus/<target>/, from the conformance
cases (tests/conformance/cases: definitions, their inputs, the paths, intrinsic calls and
JSONata expressions inside them) and the validation files (tests/conformance/validation),
plus fuzz/regressions/<target>/ (inputs that once crashed a target, kept as seeds).

The corpus is generated, not committed: it follows the cases as they change, and libFuzzer
grows it during a run (its new files would otherwise churn the repository). Deterministic:
the same cases give the same files; files already in the corpus (libFuzzer's) are kept.

Usage: python3 fuzz/seed.py  (from anywhere; writes next to this file)
"""

import glob
import hashlib
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")

# Most seeds per target: enough to cover every state type and field kind the cases hold,
# few enough that a one-minute CI run gets past loading them.
LIMITS = {"definition": 400, "expression": 600, "api": 300}

PATH_FIELDS = {"InputPath", "OutputPath", "ItemsPath", "Variable", "ResultPath",
               "TimestampPath", "SecondsPath", "ErrorPath", "CausePath", "ToleratedFailureCountPath",
               "ToleratedFailurePercentagePath", "MaxConcurrencyPath"}


def cases():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/conformance/cases/*.json"))):
        with open(path, encoding="utf-8") as f:
            yield json.load(f)


def expressions(value, key=None):
    """(kind, text) of every expression in a definition."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from expressions(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from expressions(v, key)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("{%") and text.endswith("%}"):
            yield "jsonata", text[2:-2].strip()
        elif key and key.endswith(".$") and text.startswith("States."):
            yield "intrinsic", text
        elif key == "ResultPath" and text.startswith("$"):
            yield "set", text
        elif (key in PATH_FIELDS or (key and key.endswith(".$"))) and text.startswith("$"):
            yield "path", text


def api_seed(case, i):
    """A few API calls around one case's definition."""
    name = f"m{i}"
    definition = json.dumps(case["definition"], separators=(",", ":"))
    case_input = json.dumps(case.get("input", {}), separators=(",", ":"))
    machine = f"arn:aws:states:us-east-1:111111111111:stateMachine:{name}"
    calls = []
    if i % 3 == 0:
        calls.append(("ValidateStateMachineDefinition", {"definition": definition}))
    express = i % 2 == 1
    create = {"name": name, "definition": definition,
              "roleArn": "arn:aws:iam::111111111111:role/r"}
    if express:
        create["type"] = "EXPRESS"
    calls.append(("CreateStateMachine", create))
    if express:
        calls.append(("StartSyncExecution", {"stateMachineArn": machine, "input": case_input}))
    else:
        execution = f"arn:aws:states:us-east-1:111111111111:execution:{name}:e"
        calls += [
            ("StartExecution", {"stateMachineArn": machine, "name": "e", "input": case_input}),
            ("DescribeExecution", {"executionArn": execution}),
            ("GetExecutionHistory", {"executionArn": execution, "maxResults": 2}),
            ("StopExecution", {"executionArn": execution, "error": "E", "cause": "c"}),
        ]
    calls.append(("DescribeStateMachine", {"stateMachineArn": machine}))
    return "".join(f"{op} {json.dumps(body, separators=(',', ':'))}\n" for op, body in calls)


# Calls no case covers: activities, versions and aliases, tags, TestState, listings.
EXTRA_API = [
    [("CreateActivity", {"name": "a", "tags": [{"key": "k", "value": "v"}]}),
     ("DescribeActivity", {"activityArn": "arn:aws:states:us-east-1:111111111111:activity:a"}),
     ("ListActivities", {"maxResults": 1}),
     ("GetActivityTask", {"activityArn": "arn:aws:states:us-east-1:111111111111:activity:a"}),
     ("SendTaskSuccess", {"taskToken": "t", "output": "{}"}),
     ("DeleteActivity", {"activityArn": "arn:aws:states:us-east-1:111111111111:activity:a"})],
    [("CreateStateMachine", {"name": "v", "publish": True, "versionDescription": "d",
                             "roleArn": "arn:aws:iam::111111111111:role/r",
                             "definition": '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'}),
     ("PublishStateMachineVersion", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v"}),
     ("CreateStateMachineAlias", {"name": "live", "routingConfiguration": [
         {"stateMachineVersionArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v:1", "weight": 100}]}),
     ("ListStateMachineVersions", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v"}),
     ("ListStateMachineAliases", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v"}),
     ("StartExecution", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v:live"}),
     ("TagResource", {"resourceArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v",
                      "tags": [{"key": "a", "value": "b"}]}),
     ("ListTagsForResource", {"resourceArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v"}),
     ("UpdateStateMachine", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v",
                             "publish": True,
                             "definition": '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}'}),
     ("DeleteStateMachine", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:v"}),
     ("ListStateMachines", {})],
    [("TestState", {"definition": '{"Type":"Pass","Parameters":{"a.$":"States.Format(\'{}\', $.x)"},"End":true}',
                    "input": '{"x":1}', "inspectionLevel": "TRACE"}),
     ("TestState", {"definition": '{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":1,"Next":"A"}],"Default":"B"}',
                    "input": '{"x":1}', "inspectionLevel": "DEBUG"}),
     ("ListExecutions", {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:x",
                         "statusFilter": "RUNNING"}),
     ("ListMapRuns", {"executionArn": "arn:aws:states:us-east-1:111111111111:execution:x:y"}),
     ("RedriveExecution", {"executionArn": "arn:aws:states:us-east-1:111111111111:execution:x:y"})],
]


def write(target, name, text):
    path = os.path.join(CORPUS, target, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    seeds = {target: {} for target in LIMITS}

    def add(target, text):
        if len(seeds[target]) < LIMITS[target]:
            seeds[target].setdefault(hashlib.sha1(text.encode()).hexdigest()[:16], text)

    all_cases = list(cases())
    for case in all_cases:
        add("definition", json.dumps(case["definition"], indent=1))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/conformance/validation/*/*.json"))):
        with open(path, encoding="utf-8") as f:
            add("definition", f.read())
    for case in all_cases:
        case_input = json.dumps(case.get("input", {}))
        for kind, text in expressions(case["definition"]):
            if "\n" not in text:
                add("expression", f"{kind} {text}\n{case_input}")
    for i, case in enumerate(all_cases):
        add("api", api_seed(case, i))
    for calls in EXTRA_API:
        add("api", "".join(f"{op} {json.dumps(body, separators=(',', ':'))}\n" for op, body in calls))

    for target, files in seeds.items():
        # What libFuzzer added to the corpus stays: seeds are named by their content.
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
        for name, text in files.items():
            write(target, name, text)
        regressions = os.path.join(HERE, "regressions", target)
        kept = sorted(glob.glob(os.path.join(regressions, "*")))
        for path in kept:
            shutil.copy(path, os.path.join(CORPUS, target, "regression-" + os.path.basename(path)))
        print(f"{target}: {len(files)} seeds, {len(kept)} regressions")


if __name__ == "__main__":
    main()
