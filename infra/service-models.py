"""Extracts what stepfn's `aws-sdk:*` tasks need from botocore's service models.

Reads the botocore package this interpreter imports (infra/python-clients.sh pins it) and
writes models/aws/services.bin (one gzip stream per service, concatenated) and
models/aws/services.idx (one line per service: Step Functions name, byte offset, byte length,
botocore name). Documentation, examples, validation bounds and enums are dropped; shapes keep
what serializing a request and reading a response need.

    infra/.venv/bin/python infra/service-models.py models/aws          # write
    infra/.venv/bin/python infra/service-models.py --check models/aws  # compare, exit 1 if stale
"""

import gzip
import io
import json
import os
import re
import sys

import botocore

SHAPE_KEYS = {
    "type", "members", "member", "key", "value", "required", "payload", "flattened",
    "locationName", "location", "xmlNamespace", "xmlAttribute", "queryName",
    "timestampFormat", "streaming", "eventstream", "event", "exception", "error",
    "jsonvalue", "hostLabel", "idempotencyToken", "union", "document", "requiresLength",
    "synthetic",
}
MEMBER_KEYS = {
    "shape", "location", "locationName", "xmlNamespace", "xmlAttribute", "queryName",
    "flattened", "streaming", "jsonvalue", "hostLabel", "idempotencyToken", "timestampFormat",
    "eventpayload", "eventheader",
}
OPERATION_KEYS = {"http", "input", "output", "errors", "endpoint", "httpChecksumRequired",
                  "httpChecksum", "authtype", "auth"}
PROTOCOLS = ["json", "rest-json", "rest-xml", "query", "ec2", "smithy-rpc-v2-cbor"]
METADATA_KEYS = {"apiVersion", "endpointPrefix", "globalEndpoint", "jsonVersion", "protocol",
                 "serviceId", "signingName", "targetPrefix", "xmlNamespace", "signatureVersion"}


def sfn_name(service_id):
    """The service's name in `arn:aws:states:::aws-sdk:<name>:<action>`: the SDK client's
    name (the service id without spaces and a trailing "Service"), in lowercase."""
    return client_name(service_id).lower()


def client_name(service_id):
    words = [w for w in re.split(r"[^A-Za-z0-9]+", service_id) if w]
    if len(words) > 1 and words[-1].lower() == "service":
        words = words[:-1]
    return "".join(words)


def latest(path):
    versions = sorted(v for v in os.listdir(path) if os.path.isfile(os.path.join(path, v, "service-2.json.gz")))
    return os.path.join(path, versions[-1], "service-2.json.gz") if versions else None


def compact(model):
    meta = {k: v for k, v in model["metadata"].items() if k in METADATA_KEYS}
    # The first protocol of the model's list that stepfn speaks; CBOR only when it is the
    # only one.
    listed = model["metadata"].get("protocols", [])
    for p in [p for p in listed if p != "smithy-rpc-v2-cbor"] + listed:
        if p in PROTOCOLS:
            meta["protocol"] = p
            break
    ops = {}
    for name, op in model["operations"].items():
        o = {k: v for k, v in op.items() if k in OPERATION_KEYS}
        for side in ("input", "output"):
            if side in o:
                o[side] = {k: v for k, v in o[side].items() if k in ("shape", "locationName", "xmlNamespace", "resultWrapper")}
        if "errors" in o:
            o["errors"] = [e["shape"] for e in o["errors"]]
        if "httpChecksum" in o:
            o["httpChecksum"] = {k: v for k, v in o["httpChecksum"].items() if k == "requestChecksumRequired"}
            if not o["httpChecksum"]:
                del o["httpChecksum"]
        ops[name] = o
    shapes = {}
    for name, shape in model["shapes"].items():
        s = {k: v for k, v in shape.items() if k in SHAPE_KEYS}
        if "members" in s:
            s["members"] = {m: {k: v for k, v in ms.items() if k in MEMBER_KEYS} for m, ms in s["members"].items()}
        for k in ("member", "key", "value"):
            if k in s:
                s[k] = {kk: vv for kk, vv in s[k].items() if kk in MEMBER_KEYS}
        if "error" in s:
            s["error"] = {k: v for k, v in s["error"].items() if k in ("code", "httpStatusCode", "senderFault")}
        shapes[name] = s
    return {"metadata": meta, "operations": ops, "shapes": shapes}


def main():
    check = sys.argv[1] == "--check"
    out = sys.argv[-1]
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    entries = []
    for service in sorted(os.listdir(data)):
        path = os.path.join(data, service)
        if not os.path.isdir(path):
            continue
        model_path = latest(path)
        if model_path is None:
            continue
        with gzip.open(model_path) as f:
            model = json.load(f)
        entries.append((sfn_name(model["metadata"]["serviceId"]), service, compact(model)))
    # botocore keeps some services under two names (sms-voice and pinpoint-sms-voice): one
    # service id, one entry, the first name in botocore's order.
    seen = {}
    for name, service, model in entries:
        seen.setdefault(name, (name, service, model))
    entries = sorted(seen.values(), key=lambda e: e[0])
    blob = io.BytesIO()
    index = []
    for name, service, model in entries:
        text = json.dumps(model, separators=(",", ":")).encode()
        packed = gzip.compress(text, compresslevel=9, mtime=0)
        index.append(f"{name}\t{blob.tell()}\t{len(packed)}\t{service}\n")
        blob.write(packed)
    header = f"# botocore {botocore.__version__}: Step Functions name, offset, length, botocore name\n"
    idx_text = header + "".join(index)
    if check:
        # Compares what the models say, not the compressed bytes (zlib builds may differ).
        with open(os.path.join(out, "services.bin"), "rb") as f:
            committed_bin = f.read()
        committed = {}
        with open(os.path.join(out, "services.idx")) as f:
            lines = f.read().splitlines()
        for line in lines[1:]:
            name, offset, length, service = line.split("\t")
            text = gzip.decompress(committed_bin[int(offset):int(offset) + int(length)])
            committed[name] = (service, text)
        fresh = {name: (service, json.dumps(model, separators=(",", ":")).encode())
                 for name, service, model in entries}
        if lines[:1] != [header.rstrip("\n")] or committed != fresh:
            sys.exit(f"{out} is not what botocore {botocore.__version__} gives: "
                     "run infra/.venv/bin/python infra/service-models.py models/aws")
        print(f"service models: {len(index)} services, as botocore {botocore.__version__} gives them")
        return
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "services.bin"), "wb") as f:
        f.write(blob.getvalue())
    with open(os.path.join(out, "services.idx"), "w") as f:
        f.write(idx_text)


if __name__ == "__main__":
    main()
