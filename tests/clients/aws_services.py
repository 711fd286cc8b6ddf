#!/usr/bin/env python3
"""Task states that call AWS services, run by stepfn against moto, checked on the receiving side.

    venv="$(bash infra/python-clients.sh)"
    "$venv/bin/python" tests/clients/aws_services.py --stepfn target/debug/stepfn \
        --moto http://127.0.0.1:PORT --serve http://127.0.0.1:PORT2

`--serve` is a `stepfn serve` started with AWS_ENDPOINT_URL pointing at the same moto. The
script makes the buckets, queues, topics and rules with boto3 (botocore's own serializers),
runs state machines with `stepfn run` (and through serve for the callback), then reads what
arrived with boto3: the S3 object, the SQS message, the SNS message (through a subscribed
queue), the EventBridge event (through a rule whose target is a queue). One service of each
protocol: S3 restXml, SQS awsJson 1.0, SNS awsQuery, EC2 ec2Query, Lambda restJson1.

Prints `aws services: N checks passed` and exits 0, or the failed check and exits 1.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile

import boto3

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/stepfn-services"
CHECKS = 0


def check(condition, message):
    """A plain assert, counted."""
    global CHECKS
    CHECKS += 1
    assert condition, message


class Run:
    """`stepfn run` of a definition against moto."""

    def __init__(self, stepfn, moto):
        self.stepfn = stepfn
        self.env = dict(os.environ, AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="test",
                        AWS_SECRET_ACCESS_KEY="test", AWS_REGION=REGION)
        self.env.pop("AWS_PROFILE", None)

    def __call__(self, definition, payload=None, name="services"):
        path = f"/tmp/stepfn-services-{uuid.uuid4().hex[:8]}.asl.json"
        with open(path, "w") as f:
            json.dump(definition, f)
        try:
            out = subprocess.run(
                [self.stepfn, "run", path, "--name", name, "--format", "json",
                 "--input", json.dumps(payload or {})],
                env=self.env, capture_output=True, text=True, timeout=120)
        finally:
            os.remove(path)
        try:
            return json.loads(out.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"stepfn run printed no JSON: {out.stdout!r} {out.stderr!r}")


def task(resource, parameters, **more):
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
    state.update(more)
    return {"StartAt": "Call", "States": {"Call": state}}


def receive(sqs, queue_url, wait=10):
    """The bodies of the messages on a queue (waits for at least one)."""
    deadline = time.monotonic() + wait
    bodies = []
    while time.monotonic() < deadline and not bodies:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def sdk_protocols(run, clients, suffix):
    s3, sqs, sns, lam = clients["s3"], clients["sqs"], clients["sns"], clients["lambda"]
    bucket = f"stepfn-{suffix}"
    s3.create_bucket(Bucket=bucket)

    # restXml: putObject then getObject; boto3 reads the object back.
    put = run(task("arn:aws:states:::aws-sdk:s3:putObject",
                   {"Bucket": bucket, "Key": "orders/1.json", "Body": {"order": 1},
                    "ContentType": "application/json", "Metadata": {"origin": "stepfn"}}))
    check(put["status"] == "SUCCEEDED", f"s3 putObject: {put}")
    check(put["output"].get("ETag", "").startswith('"'), f"s3 putObject ETag: {put['output']}")
    obj = s3.get_object(Bucket=bucket, Key="orders/1.json")
    check(json.loads(obj["Body"].read()) == {"order": 1}, "the S3 object holds the JSON body")
    check(obj["ContentType"] == "application/json", f"content type {obj['ContentType']}")
    check(obj["Metadata"] == {"origin": "stepfn"}, f"metadata {obj['Metadata']}")
    got = run(task("arn:aws:states:::aws-sdk:s3:getObject",
                   {"Bucket": bucket, "Key": "orders/1.json"}))
    check(got["status"] == "SUCCEEDED", f"s3 getObject: {got}")
    check(got["output"]["Body"] == '{"order":1}', f"getObject Body: {got['output']}")
    check(got["output"]["ContentLength"] == 11, f"getObject ContentLength: {got['output']}")
    check(got["output"]["Metadata"] == {"origin": "stepfn"}, f"getObject Metadata: {got['output']}")
    check(got["output"]["LastModified"].endswith("Z"), f"LastModified: {got['output']}")
    listed = run(task("arn:aws:states:::aws-sdk:s3:listObjectsV2", {"Bucket": bucket, "Prefix": "orders/"}))
    check(listed["status"] == "SUCCEEDED", f"s3 listObjectsV2: {listed}")
    contents = listed["output"].get("Contents", [])
    check([c["Key"] for c in contents] == ["orders/1.json"], f"listObjectsV2 Contents: {listed['output']}")
    check(contents[0]["Size"] == 11 and listed["output"]["KeyCount"] == 1, f"sizes: {listed['output']}")

    # awsJson 1.0: sqs sendMessage; boto3 receives it.
    queue = sqs.create_queue(QueueName=f"sdk-{suffix}")["QueueUrl"]
    sent = run(task("arn:aws:states:::aws-sdk:sqs:sendMessage",
                    {"QueueUrl": queue, "MessageBody": "hello from aws-sdk",
                     "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "greeting"}}}))
    check(sent["status"] == "SUCCEEDED", f"sqs sendMessage: {sent}")
    check(set(sent["output"]) >= {"MessageId", "MD5OfMessageBody"}, f"sendMessage result: {sent['output']}")
    check("SdkHttpMetadata" not in sent["output"], "aws-sdk results carry no SdkHttpMetadata")
    check(receive(sqs, queue) == ["hello from aws-sdk"], "the SQS message arrived")

    # awsQuery: sns createTopic + publish; the message reaches a subscribed queue.
    inbox = sqs.create_queue(QueueName=f"sns-inbox-{suffix}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    made = run(task("arn:aws:states:::aws-sdk:sns:createTopic", {"Name": f"topic-{suffix}"}))
    check(made["status"] == "SUCCEEDED", f"sns createTopic: {made}")
    topic = made["output"]["TopicArn"]
    check(topic.endswith(f":topic-{suffix}"), f"TopicArn {topic}")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    published = run(task("arn:aws:states:::aws-sdk:sns:publish",
                         {"TopicArn": topic, "Message": "hello over SNS", "Subject": "greeting",
                          "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}))
    check(published["status"] == "SUCCEEDED", f"sns publish: {published}")
    check(list(published["output"]) == ["MessageId"], f"publish result: {published['output']}")
    check(receive(sqs, inbox) == ["hello over SNS"], "the SNS message reached the subscribed queue")

    # ec2Query: describeRegions; a list of items under regionInfo.
    regions = run(task("arn:aws:states:::aws-sdk:ec2:describeRegions", {"RegionNames": ["us-east-1", "eu-west-1"]}))
    check(regions["status"] == "SUCCEEDED", f"ec2 describeRegions: {regions}")
    names = sorted(r["RegionName"] for r in regions["output"]["Regions"])
    check(names == ["eu-west-1", "us-east-1"], f"regions: {regions['output']}")
    vpc = run(task("arn:aws:states:::aws-sdk:ec2:createVpc",
                   {"CidrBlock": "10.7.0.0/16",
                    "TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "by", "Value": suffix}]}]}))
    check(vpc["status"] == "SUCCEEDED", f"ec2 createVpc: {vpc}")
    vpc_id = vpc["output"]["Vpc"]["VpcId"]
    seen = clients["ec2"].describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    check(seen["CidrBlock"] == "10.7.0.0/16", f"the VPC exists: {seen}")
    check({"Key": "by", "Value": suffix} in seen.get("Tags", []), f"its tag: {seen}")

    # restJson1: lambda createFunction (moto keeps it) and getFunction.
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    clients["iam"].create_role(RoleName=f"fn-{suffix}", AssumeRolePolicyDocument="{}")
    role = f"arn:aws:iam::123456789012:role/fn-{suffix}"
    lam.create_function(FunctionName=f"fn-{suffix}", Runtime="python3.12", Role=role,
                        Handler="index.handler", Code={"ZipFile": code.getvalue()})
    fn = run(task("arn:aws:states:::aws-sdk:lambda:getFunction", {"FunctionName": f"fn-{suffix}"}))
    check(fn["status"] == "SUCCEEDED", f"lambda getFunction: {fn}")
    check(fn["output"]["Configuration"]["FunctionName"] == f"fn-{suffix}", f"getFunction: {fn['output']}")
    check(fn["output"]["Configuration"]["Handler"] == "index.handler", f"handler: {fn['output']}")
    tagged = run(task("arn:aws:states:::aws-sdk:lambda:tagResource",
                      {"Resource": fn["output"]["Configuration"]["FunctionArn"], "Tags": {"team": "orders"}}))
    check(tagged["status"] == "SUCCEEDED", f"lambda tagResource: {tagged}")
    tags = lam.list_tags(Resource=fn["output"]["Configuration"]["FunctionArn"])["Tags"]
    check(tags.get("team") == "orders", f"the tag arrived: {tags}")
    return bucket


def optimized(run, clients, suffix):
    sqs, sns, events = clients["sqs"], clients["sns"], clients["events"]
    queue = sqs.create_queue(QueueName=f"opt-{suffix}")["QueueUrl"]
    sent = run(task("arn:aws:states:::sqs:sendMessage",
                    {"QueueUrl": queue, "MessageBody": {"order": 7, "items": ["a"]}}))
    check(sent["status"] == "SUCCEEDED", f"sqs:sendMessage: {sent}")
    out = sent["output"]
    check(set(out) >= {"MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"},
          f"sqs:sendMessage result: {out}")
    check(out["SdkHttpMetadata"]["HttpStatusCode"] == 200, f"metadata: {out['SdkHttpMetadata']}")
    check(json.loads(receive(sqs, queue)[0]) == {"order": 7, "items": ["a"]}, "the JSON body arrived as text")

    inbox = sqs.create_queue(QueueName=f"opt-inbox-{suffix}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"opt-topic-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    published = run(task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"shipped": True}}))
    check(published["status"] == "SUCCEEDED", f"sns:publish: {published}")
    check(set(published["output"]) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"},
          f"sns:publish result: {published['output']}")
    check(json.loads(receive(sqs, inbox)[0]) == {"shipped": True}, "the SNS message reached the queue")

    bus_inbox = sqs.create_queue(QueueName=f"bus-inbox-{suffix}")["QueueUrl"]
    bus_arn = sqs.get_queue_attributes(QueueUrl=bus_inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"orders-{suffix}", EventPattern=json.dumps({"source": [f"stepfn.{suffix}"]}))
    events.put_targets(Rule=f"orders-{suffix}", Targets=[{"Id": "q", "Arn": bus_arn}])
    put = run(task("arn:aws:states:::events:putEvents",
                   {"Entries": [{"Source": f"stepfn.{suffix}", "DetailType": "OrderShipped",
                                 "Detail": {"order": 7}}]}), name="bus-machine")
    check(put["status"] == "SUCCEEDED", f"events:putEvents: {put}")
    check(put["output"]["FailedEntryCount"] == 0 and len(put["output"]["Entries"]) == 1, f"putEvents: {put['output']}")
    event = json.loads(receive(sqs, bus_inbox)[0])
    check(event["detail"] == {"order": 7} and event["detail-type"] == "OrderShipped", f"the event: {event}")
    check(any(":stateMachine:bus-machine" in r for r in event["resources"]), f"resources: {event['resources']}")
    check(any(":execution:bus-machine:" in r for r in event["resources"]), f"resources: {event['resources']}")


def errors(run, clients, suffix, bucket):
    def failed(result):
        check(result["status"] == "FAILED", f"expected a failure: {result}")
        return result["error"], result["cause"]

    error, cause = failed(run(task("arn:aws:states:::aws-sdk:s3:getObject",
                                   {"Bucket": f"missing-{suffix}", "Key": "k"})))
    check(error == "S3.NoSuchBucketException", f"missing bucket: {error}")
    check("(Service: S3, Status Code: 404, Request ID: " in cause, f"cause: {cause}")
    error, cause = failed(run(task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": bucket, "Key": "nope"})))
    check(error == "S3.NoSuchKeyException", f"missing key: {error} {cause}")
    missing_queue = clients["sqs"].create_queue(QueueName=f"gone-{suffix}")["QueueUrl"]
    clients["sqs"].delete_queue(QueueUrl=missing_queue)
    error, cause = failed(run(task("arn:aws:states:::aws-sdk:sqs:sendMessage",
                                   {"QueueUrl": missing_queue, "MessageBody": "x"})))
    check(error == "Sqs.QueueDoesNotExistException", f"missing queue (aws-sdk): {error} {cause}")
    error, cause = failed(run(task("arn:aws:states:::sqs:sendMessage",
                                   {"QueueUrl": missing_queue, "MessageBody": "x"})))
    check(error == "SQS.QueueDoesNotExistException", f"missing queue (optimized): {error} {cause}")
    check("(Service: AmazonSQS; Status Code: 400; Error Code: " in cause, f"cause: {cause}")
    error, _ = failed(run(task("arn:aws:states:::sns:publish",
                               {"TopicArn": f"arn:aws:sns:us-east-1:123456789012:none-{suffix}", "Message": "x"})))
    check(error == "SNS.NotFoundException", f"missing topic: {error}")
    # A parameter of the wrong type never reaches the service.
    error, cause = failed(run(task("arn:aws:states:::aws-sdk:sqs:sendMessage",
                                   {"QueueUrl": missing_queue, "MessageBody": "x", "DelaySeconds": "soon"})))
    check(error == "States.TaskFailed" and "/DelaySeconds must be an integer" in cause, f"{error}: {cause}")
    # Caught by name, as a Catch would.
    caught = run({"StartAt": "Get", "States": {
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": f"missing-{suffix}", "Key": "k"},
                "Catch": [{"ErrorEquals": ["S3.NoSuchBucketException"], "Next": "Missing"}], "End": True},
        "Missing": {"Type": "Pass", "Result": "caught", "End": True}}})
    check(caught["status"] == "SUCCEEDED" and caught["output"] == "caught", f"catch: {caught}")


def denied(run_denied, clients_denied, suffix):
    """A moto that checks IAM: a user without policies is refused."""
    error, cause = None, None
    result = run_denied(task("arn:aws:states:::aws-sdk:s3:listBuckets", {}))
    check(result["status"] == "FAILED", f"access denied: {result}")
    check(result["error"] == "S3.S3Exception", f"access denied error: {result['error']}")
    check("Status Code: 403" in result["cause"], f"access denied cause: {result['cause']}")
    result = run_denied(task("arn:aws:states:::aws-sdk:sqs:listQueues", {}))
    check(result["status"] == "FAILED" and result["error"].startswith("Sqs."), f"sqs denied: {result}")
    check("Status Code: 403" in result["cause"] or "Status Code: 400" in result["cause"], f"{result['cause']}")


def callback(clients, suffix, serve):
    """sqs:sendMessage.waitForTaskToken through serve: a consumer answers with the token."""
    sqs = clients["sqs"]
    queue = sqs.create_queue(QueueName=f"callback-{suffix}")["QueueUrl"]
    sfn = boto3.client("stepfunctions", endpoint_url=serve, region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test")
    definition = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                      HeartbeatSeconds=60)
    machine = sfn.create_state_machine(name=f"callback-{suffix}", definition=json.dumps(definition),
                                       roleArn=ROLE_ARN)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"order": 42}))["executionArn"]
    bodies = receive(sqs, queue, wait=20)
    check(len(bodies) == 1, f"one message with the token: {bodies}")
    message = json.loads(bodies[0])
    check(message["order"] == 42 and message["token"], f"the message: {message}")
    sfn.send_task_success(taskToken=message["token"], output=json.dumps({"paid": True}))
    deadline = time.monotonic() + 30
    while True:
        described = sfn.describe_execution(executionArn=run)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(described["status"] == "SUCCEEDED", f"callback execution: {described}")
    check(json.loads(described["output"]) == {"paid": True}, f"output {described.get('output')}")
    history = sfn.get_execution_history(executionArn=run)["events"]
    submitted = [e for e in history if e["type"] == "TaskSubmitted"]
    check(len(submitted) == 1, f"TaskSubmitted once: {[e['type'] for e in history]}")
    details = json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])
    check("MessageId" in details and "SdkHttpMetadata" in details, f"TaskSubmitted output: {details}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stepfn", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--serve", required=True)
    parser.add_argument("--moto-iam", help="a second moto with IAM checks (INITIAL_NO_AUTH_ACTION_COUNT)")
    args = parser.parse_args()
    session = dict(endpoint_url=args.moto, region_name=REGION, aws_access_key_id="test",
                   aws_secret_access_key="test")
    clients = {name: boto3.client(name, **session)
               for name in ["s3", "sqs", "sns", "events", "ec2", "lambda", "iam"]}
    suffix = uuid.uuid4().hex[:8]
    run = Run(args.stepfn, args.moto)
    bucket = sdk_protocols(run, clients, suffix)
    optimized(run, clients, suffix)
    errors(run, clients, suffix, bucket)
    callback(clients, suffix, args.serve)
    if args.moto_iam:
        iam = boto3.client("iam", endpoint_url=args.moto_iam, region_name=REGION,
                           aws_access_key_id="test", aws_secret_access_key="test")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        run_denied = Run(args.stepfn, args.moto_iam)
        run_denied.env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
        denied(run_denied, None, suffix)
    print(f"aws services: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
