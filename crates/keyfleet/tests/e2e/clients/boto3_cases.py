"""boto3 against a running keyfleet: python3 boto3_cases.py URL CASE [ARGS].

Credentials and region come from the environment the Rust harness sets. Each case
prints one JSON document; any failed assertion exits non-zero with a traceback.
"""
import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = sys.argv[1]


def ec2(region="us-east-1", pool=10):
    config = Config(retries={"max_attempts": 1}, max_pool_connections=pool)
    return boto3.client("ec2", endpoint_url=URL, region_name=region, config=config)


def error_of(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected an error")


def suite():
    c = ec2()
    assert c.describe_key_pairs()["KeyPairs"] == []
    created = c.create_key_pair(
        KeyName="alpha", KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "dev"}]}],
    )
    assert created["KeyName"] == "alpha" and created["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert created["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert len(created["KeyFingerprint"]) == 44 and created["KeyFingerprint"].endswith("=")
    untagged = c.create_key_pair(KeyName="beta")
    assert "Tags" not in untagged, "AWS omits tagSet on an untagged create"
    assert len(untagged["KeyFingerprint"]) == 59
    assert untagged["ResponseMetadata"]["RequestId"]

    c.get_waiter("key_pair_exists").wait(KeyNames=["alpha"])
    listed = c.describe_key_pairs()["KeyPairs"]
    assert [k["KeyName"] for k in listed] == ["alpha", "beta"], "creation order"
    assert listed[1]["Tags"] == [] and listed[1]["KeyType"] == "rsa"
    assert "PublicKey" not in listed[0]
    assert listed[0]["CreateTime"].tzinfo is not None

    by_id = c.describe_key_pairs(KeyPairIds=[untagged["KeyPairId"]], IncludePublicKey=True)["KeyPairs"]
    assert by_id[0]["KeyName"] == "beta" and by_id[0]["PublicKey"].endswith(" beta")

    # boto3 takes raw text for the blob and base64-encodes it itself.
    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILR+zNQbYY5ORuhYXGMTSnjRLzS9C5dUdWRKdlqi20q2 someone@host\n"
    imported = c.import_key_pair(KeyName="snap", PublicKeyMaterial=line)
    assert imported["KeyFingerprint"] == "4LmcYnyBOqlloHZ5TKAxfa8BgMK2wL6WeOOTvXVdhmw=", "real AWS value"

    assert error_of(lambda: c.describe_key_pairs(KeyNames=["nope"])) == (
        "InvalidKeyPair.NotFound", "The key pair 'nope' does not exist", 400)
    assert error_of(lambda: c.create_key_pair(KeyName="alpha")) == (
        "InvalidKeyPair.Duplicate", "The keypair 'alpha' already exists.", 400)
    assert error_of(lambda: c.create_key_pair(KeyName="x", DryRun=True))[0::2] == ("DryRunOperation", 412)
    assert error_of(lambda: c.import_key_pair(KeyName="bad", PublicKeyMaterial=b"hello"))[0:2] == (
        "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
    assert error_of(lambda: c.import_key_pair(KeyName="big", PublicKeyMaterial=b"a" * 2049))[0:2] == (
        "InvalidParameterValue", "Value for parameter PublicKeyMaterial is invalid. Length exceeds maximum of 2048.")
    assert error_of(lambda: c.import_key_pair(KeyName="na", PublicKeyMaterial="ssh-rsa é".encode()))[0:2] == (
        "InvalidParameterValue",
        "Value for parameter PublicKeyMaterial is invalid. Character sets beyond ASCII are not supported.")

    # DescribeTags pages with MaxResults / NextToken, and the paginator follows them.
    c.create_tags(Resources=[untagged["KeyPairId"]], Tags=[{"Key": f"k{i:02}", "Value": str(i)} for i in range(12)])
    first = c.describe_tags(MaxResults=5)
    assert len(first["Tags"]) == 5 and "NextToken" in first
    pages = c.get_paginator("describe_tags").paginate(PaginationConfig={"PageSize": 5})
    assert len([t for p in pages for t in p["Tags"]]) == 13
    assert error_of(lambda: c.describe_tags(MaxResults=4))[0] == "InvalidParameterValue"
    assert error_of(lambda: c.create_tags(Resources=[untagged["KeyPairId"]],
                                          Tags=[{"Key": f"m{i}", "Value": ""} for i in range(40)]))[0] == "TagLimitExceeded"

    deleted = c.delete_key_pair(KeyPairId=untagged["KeyPairId"])
    assert deleted["Return"] is True and deleted["KeyPairId"] == untagged["KeyPairId"]
    assert error_of(lambda: c.describe_key_pairs(KeyPairIds=[untagged["KeyPairId"]]))[0] == "InvalidKeyPair.NotFound"
    assert c.describe_tags(Filters=[{"Name": "resource-id", "Values": [untagged["KeyPairId"]]}])["Tags"] == []
    assert ec2("ap-south-1").describe_key_pairs()["KeyPairs"] == []
    print(json.dumps({"ok": True}))


def concurrent_create(names, workers):
    c = ec2(pool=workers)

    def create(name):
        try:
            c.create_key_pair(KeyName=name, KeyType="ed25519")
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = Counter(pool.map(create, names))
    total = len(ec2().describe_key_pairs()["KeyPairs"])
    print(json.dumps({"outcomes": outcomes, "stored": total}))


def auth_cases():
    """Signature failures as boto3 reports them, and the presigned (query) form."""
    import datetime
    import urllib.request

    import botocore.auth

    results = {}
    c = ec2()
    url = c.generate_presigned_url("describe_key_pairs", Params={}, ExpiresIn=60, HttpMethod="GET")
    with urllib.request.urlopen(url) as response:
        results["presigned"] = [response.status, b"<keySet/>" in response.read()]

    wrong = boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", aws_access_key_id=c._request_signer._credentials.access_key,
                         aws_secret_access_key="not-the-secret", config=Config(retries={"max_attempts": 1}))
    results["wrong_secret"] = error_of(lambda: wrong.describe_key_pairs())
    unknown = boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", aws_access_key_id="AKIAUNKNOWNUNKNOWN00",
                           aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    results["unknown_key"] = error_of(lambda: unknown.describe_key_pairs())

    real_now = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real_now() - datetime.timedelta(minutes=20)
    try:
        results["skewed"] = error_of(lambda: c.describe_key_pairs())
    finally:
        botocore.auth.get_current_datetime = real_now
    print(json.dumps(results))


if __name__ == "__main__":
    case = sys.argv[2]
    if case == "suite":
        suite()
    elif case == "auth":
        auth_cases()
    elif case == "same-name":
        n = int(sys.argv[3])
        concurrent_create(["contested"] * n, n)
    elif case == "distinct-names":
        n = int(sys.argv[3])
        concurrent_create([f"k{i}" for i in range(n)], 32)
    else:
        raise SystemExit(f"unknown case {case}")
