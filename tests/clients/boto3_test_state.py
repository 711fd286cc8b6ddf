"""TestState through boto3: part of the session in boto3_session.py.

Answers and messages follow AWS's recordings (LocalStack's AWS-validated snapshots under
tests/aws/services/stepfunctions/v2/test_state) and the API reference.
"""

import json

from boto3_session import ROLE_ARN, check, expect_error


def test_state(client):
    machine = json.dumps({
        "StartAt": "Charge",
        "States": {
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
                "ResultSelector": {"receipt.$": "$.Payload"},
                "ResultPath": "$.charge",
                "Retry": [{"ErrorEquals": ["Card.Declined"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund"}],
                "Next": "Ship",
            },
            "Ship": {"Type": "Succeed"},
            "Refund": {"Type": "Fail", "Error": "Refunded"},
        },
    })
    ok = client.test_state(
        definition=machine, stateName="Charge", input=json.dumps({"order": 7}),
        mock={"result": json.dumps({"Payload": "r-7"})}, inspectionLevel="DEBUG")
    check(ok["status"] == "SUCCEEDED" and ok["nextState"] == "Ship", f"TestState of a mocked task: {ok}")
    check(json.loads(ok["output"]) == {"order": 7, "charge": {"receipt": "r-7"}}, f"TestState output {ok}")
    data = ok["inspectionData"]
    check(json.loads(data["afterParameters"]) == {"FunctionName": "charge", "Payload": {"order": 7}}
          and json.loads(data["result"]) == {"Payload": "r-7"}
          and json.loads(data["afterResultSelector"]) == {"receipt": "r-7"},
          f"inspectionData at DEBUG: {data}")

    declined = {"errorOutput": {"error": "Card.Declined", "cause": "no funds"}}
    retry = client.test_state(definition=machine, stateName="Charge", input="{}", mock=declined,
                              inspectionLevel="DEBUG")
    check(retry["status"] == "RETRIABLE" and retry["error"] == "Card.Declined"
          and retry["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 1},
          f"RETRIABLE: {retry}")
    caught = client.test_state(definition=machine, stateName="Charge", input="{}", mock=declined,
                               stateConfiguration={"retrierRetryCount": 2}, inspectionLevel="DEBUG")
    check(caught["status"] == "CAUGHT_ERROR" and caught["nextState"] == "Refund"
          and caught["inspectionData"]["errorDetails"] == {"catchIndex": 0}
          and json.loads(caught["output"]) == {"error": {"Error": "Card.Declined", "Cause": "no funds"}},
          f"CAUGHT_ERROR once the retrier is spent: {caught}")
    failed = client.test_state(definition=machine, stateName="Refund", input="{}")
    check(failed["status"] == "FAILED" and failed["error"] == "Refunded" and "output" not in failed,
          f"a Fail state: {failed}")
    info = client.test_state(definition=json.dumps({"Type": "Pass", "Result": 1, "End": True}))
    check(info["status"] == "SUCCEEDED" and "inspectionData" not in info and info["output"] == "1",
          f"INFO shows no inspectionData: {info}")

    expect_error(client.exceptions.ValidationException, client.test_state,
                 definition=machine, stateName="Nope")
    expect_error(client.exceptions.ValidationException, client.test_state,
                 definition=json.dumps({"Type": "Pass", "End": True}), mock={"result": "{}"})
    expect_error(client.exceptions.ValidationException, client.test_state,
                 definition=json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}))
    expect_error(client.exceptions.InvalidDefinition, client.test_state,
                 definition=json.dumps({"Type": "Parallel", "Branches": [], "End": True}), roleArn=ROLE_ARN)
    expect_error(client.exceptions.InvalidDefinition, client.test_state, definition="{not json")
