"""boto3 against a running keyfleet: python3 boto3_cases.py URL CASE [ARGS].

Credentials and region come from the environment the Rust harness sets. Each case
prints one JSON document; any failed assertion exits non-zero with a traceback.
"""
import datetime
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URLS = sys.argv[1].split(",")
URL = URLS[0]


class Alternating:
    """One client per server (replicas on one database); each call goes to the next one.
    Waiters and paginators stay on the first."""

    def __init__(self, clients):
        self._clients, self._next, self._lock = clients, 0, threading.Lock()

    def __getattr__(self, name):
        first = getattr(self._clients[0], name)
        if name in ("get_waiter", "get_paginator", "exceptions", "meta") or not callable(first):
            return first

        def call(*args, **kwargs):
            with self._lock:
                i, self._next = self._next, self._next + 1
            return getattr(self._clients[i % len(self._clients)], name)(*args, **kwargs)
        return call


def ec2(region="us-east-1", pool=10):
    config = Config(retries={"max_attempts": 1}, max_pool_connections=pool)
    clients = [boto3.client("ec2", endpoint_url=url, region_name=region, config=config) for url in URLS]
    return clients[0] if len(clients) == 1 else Alternating(clients)


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


def create_until_refused(workers):
    """Creates key pairs from `workers` threads, printing each acknowledged name as it comes,
    until the server stops answering (the harness kills it)."""
    c = ec2(pool=workers)
    lock, stop = threading.Lock(), threading.Event()

    def run(worker):
        for i in range(100_000):
            if stop.is_set():
                return
            name = f"w{worker}-{i}"
            try:
                c.create_key_pair(KeyName=name, KeyType="ed25519")
            except Exception:  # the connection is refused or reset once the server is gone
                stop.set()
                return
            with lock:
                print(name, flush=True)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


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


def refusals_cases():
    """A user's key: accepted; then a wrong secret, an expired and a replayed signature, an
    unknown key and the key once deleted, each refused; then the audit records of each."""
    import datetime
    import urllib.error
    import urllib.request

    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    iam = boto3.client("iam", endpoint_url=URL, region_name="us-east-1")
    iam.create_user(UserName="erin")
    iam.put_user_policy(UserName="erin", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="erin")["AccessKey"]
    kid, secret = key["AccessKeyId"], key["SecretAccessKey"]

    def client(key_id, key_secret):
        return boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", aws_access_key_id=key_id,
                            aws_secret_access_key=key_secret, config=Config(retries={"max_attempts": 1}))

    # Identical calls in the same second share a signature (botocore leaves its invocation
    # id unsigned); they are not replays and must all be accepted.
    erin = client(kid, secret)
    results = {"accepted": [erin.describe_key_pairs()["KeyPairs"] for _ in range(3)] == [[], [], []]}
    results["wrong_secret"] = error_of(lambda: client(kid, "x" * 40).describe_key_pairs())
    real_now = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real_now() - datetime.timedelta(minutes=20)
    try:
        results["expired"] = error_of(lambda: client(kid, secret).describe_key_pairs())
    finally:
        botocore.auth.get_current_datetime = real_now

    # One signed request, sent twice as an eavesdropper would replay it.
    request = AWSRequest(method="POST", url=URL + "/", data="Action=DescribeKeyPairs&Version=2016-11-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(kid, secret), "ec2", "us-east-1").add_auth(request)
    prepared = request.prepare()
    statuses = []
    for _ in range(2):
        raw = urllib.request.Request(prepared.url, data=prepared.body.encode() if isinstance(prepared.body, str) else prepared.body,
                                     headers=dict(prepared.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(raw) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
            results.setdefault("replay_bodies", []).append(e.read().decode())
            results["replay_body"] = results["replay_bodies"][-1]
    results["replay_statuses"] = statuses

    results["unknown_key"] = error_of(lambda: client("AKIAUNKNOWNUNKNOWN00", "x" * 40).describe_key_pairs())
    iam.delete_access_key(UserName="erin", AccessKeyId=kid)
    results["deleted_key"] = error_of(lambda: client(kid, secret).describe_key_pairs())

    trail = boto3.client("cloudtrail", endpoint_url=URL, region_name="us-east-1")
    def codes(key_id):
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}])["Events"]
        return [json.loads(e["CloudTrailEvent"]).get("errorCode") or "OK" for e in reversed(events)]
    results["audited"] = codes(kid)
    results["audited_unknown"] = codes("AKIAUNKNOWNUNKNOWN00")
    print(json.dumps(results))


def forgery_cases():
    """A captured signature carried on another request: another body under a declared
    payload hash, a presigned URL with a body, a week-plus expiry, an unsigned host, and a
    change sent twice. Each must be refused, and none may create anything."""
    import hashlib
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    c = ec2()
    creds = c._request_signer._credentials
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

    def send(url, body, headers, method="POST"):
        data = body.encode() if isinstance(body, str) else body
        raw = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(raw) as response:
                return [response.status, ""]
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else text
            return [e.code, code]

    def signed(body, auth=SigV4Auth):
        request = AWSRequest(method="POST", url=URL + "/", data=body, headers=dict(form))
        auth(creds, "ec2", "us-east-1").add_auth(request)
        return request.prepare()

    results = {}
    describe = "Action=DescribeKeyPairs&Version=2016-11-15"
    evil = "Action=CreateKeyPair&KeyName=forged&KeyType=ed25519&Version=2016-11-15"
    prepared = signed(describe)
    headers = dict(prepared.headers.items())
    headers["X-Amz-Content-SHA256"] = hashlib.sha256(describe.encode()).hexdigest()
    results["other_body"] = send(prepared.url, evil, headers)
    results["declared_hash_ok"] = send(prepared.url, describe, headers)

    presigned = c.generate_presigned_url("describe_key_pairs", Params={}, ExpiresIn=60, HttpMethod="POST")
    results["presigned_with_body"] = send(presigned, "Action=CreateKeyPair&KeyName=forged&KeyType=ed25519", dict(form))
    week_plus = c.generate_presigned_url("describe_key_pairs", Params={}, ExpiresIn=604801, HttpMethod="GET")
    results["presigned_week_plus"] = send(week_plus, None, {}, method="GET")

    class NoHost(SigV4Auth):
        def headers_to_sign(self, request):
            signed_headers = super().headers_to_sign(request)
            del signed_headers["host"]
            return signed_headers
    no_host = signed(describe, NoHost)
    results["host_unsigned"] = send(no_host.url, describe, dict(no_host.headers.items()))

    class NoTarget(SigV4Auth):
        def headers_to_sign(self, request):
            signed_headers = super().headers_to_sign(request)
            del signed_headers["x-amz-target"]
            return signed_headers
    ssm_request = AWSRequest(method="POST", url=URL + "/", data="{}", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.DescribeParameters"})
    NoTarget(creds, "ssm", "us-east-1").add_auth(ssm_request)
    ssm_prepared = ssm_request.prepare()
    raw = urllib.request.Request(ssm_prepared.url, data=b"{}", headers=dict(ssm_prepared.headers.items()), method="POST")
    try:
        urllib.request.urlopen(raw)
        results["target_unsigned"] = [200, False]
    except urllib.error.HTTPError as e:
        results["target_unsigned"] = [e.code, "IncompleteSignature" in e.read().decode()]

    create = "Action=CreateKeyPair&KeyName=once&KeyType=ed25519&Version=2016-11-15"
    once = signed(create)
    first = send(once.url, create, dict(once.headers.items()))
    results["change_replayed"] = [first, send(once.url, create, dict(once.headers.items()))]
    results["key_pairs"] = sorted(k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"])
    print(json.dumps(results))


def session_cases():
    """A user assumes a role with boto3; the session's credentials sign headers and presigned
    URLs (the token in X-Amz-Security-Token); a wrong token is refused in each service's words."""
    import urllib.request

    config = Config(retries={"max_attempts": 1})
    iam = boto3.client("iam", endpoint_url=URL, region_name="us-east-1", config=config)
    account = boto3.client("sts", endpoint_url=URL, region_name="us-east-1", config=config).get_caller_identity()["Account"]
    iam.create_user(UserName="assumer")
    role_arn = f"arn:aws:iam::{account}:role/reader"
    iam.put_user_policy(UserName="assumer", PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}))
    key = iam.create_access_key(UserName="assumer")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{account}:user/assumer"}}]}
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    sts = boto3.client("sts", endpoint_url=URL, region_name="us-east-1", config=config,
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="py", DurationSeconds=900)["Credentials"]
    results = {"key_prefix": creds["AccessKeyId"][:4]}

    def client(service, token):
        return boto3.client(service, endpoint_url=URL, region_name="us-east-1", config=config,
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=token)

    session_ec2 = client("ec2", creds["SessionToken"])
    results["identity"] = client("sts", creds["SessionToken"]).get_caller_identity()["Arn"]
    results["describe"] = "KeyPairs" in session_ec2.describe_key_pairs()
    url = session_ec2.generate_presigned_url("describe_key_pairs", Params={}, ExpiresIn=60, HttpMethod="GET")
    results["presigned_has_token"] = "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url) as response:
        results["presigned"] = [response.status, b"<keySet/>" in response.read()]
    forged = creds["SessionToken"][:-4] + "AAAA"
    results["ec2_wrong_token"] = error_of(lambda: client("ec2", forged).describe_key_pairs())
    results["sts_wrong_token"] = error_of(lambda: client("sts", forged).get_caller_identity())
    results["ec2_no_token"] = error_of(lambda: client("ec2", None).describe_key_pairs())
    results["create_denied"] = error_of(lambda: session_ec2.create_key_pair(KeyName="nope"))[0]
    print(json.dumps(results))


def stack_cases():
    """CloudFormation as infrastructure code drives it: create_stack with a YAML key pair
    template, the waiters (polling every second), outputs, the key from Parameter Store,
    botocore's modeled exceptions, and delete with its waiter."""
    config = Config(retries={"max_attempts": 1})
    cfn = boto3.client("cloudformation", endpoint_url=URL, region_name="us-east-1", config=config)
    ssm = boto3.client("ssm", endpoint_url=URL, region_name="us-east-1", config=config)
    ec2c = boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", config=config)
    template = """
Parameters:
  Name: {Type: String, Default: py-key}
Resources:
  Key:
    Type: AWS::EC2::KeyPair
    Properties: {KeyName: !Ref Name, KeyType: ed25519}
Outputs:
  Id: {Value: !GetAtt Key.KeyPairId, Export: {Name: !Sub "${AWS::StackName}-key-id"}}
"""
    results = {}
    stack_id = cfn.create_stack(StackName="py", TemplateBody=template)["StackId"]
    results["stack_id"] = stack_id.startswith("arn:aws:cloudformation:us-east-1:")
    cfn.get_waiter("stack_create_complete").wait(StackName="py", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cfn.describe_stacks(StackName="py")["Stacks"][0]
    results["status"] = stack["StackStatus"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    key = ssm.get_parameter(Name=f"/ec2/keypair/{outputs['Id']}", WithDecryption=True)["Parameter"]
    results["private_key"] = key["Value"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    results["key_pair"] = ec2c.describe_key_pairs(KeyNames=["py-key"])["KeyPairs"][0]["KeyPairId"] == outputs["Id"]
    results["exports"] = [e["Name"] for e in cfn.list_exports()["Exports"]]
    try:
        cfn.create_stack(StackName="py", TemplateBody=template)
        results["duplicate"] = None
    except cfn.exceptions.AlreadyExistsException as e:
        results["duplicate"] = e.response["Error"]["Message"]
    named_role = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: x\n      AssumeRolePolicyDocument: {}\n"
    try:
        cfn.create_stack(StackName="iam", TemplateBody=named_role)
        results["capabilities"] = None
    except cfn.exceptions.InsufficientCapabilitiesException as e:
        results["capabilities"] = e.response["Error"]["Message"]
    results["events"] = len(cfn.describe_stack_events(StackName="py")["StackEvents"]) >= 4
    cfn.delete_stack(StackName="py")
    cfn.get_waiter("stack_delete_complete").wait(StackName="py", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    results["after_delete"] = error_of(lambda: cfn.describe_stacks(StackName="py"))
    results["key_after_delete"] = error_of(lambda: ec2c.describe_key_pairs(KeyNames=["py-key"]))[0]
    print(json.dumps(results))


def fleet_cases():
    """Launch templates and Auto Scaling as infrastructure code drives them: a template with
    its data, a group from it, polling until it is in service, the paginators, botocore's
    parsing of activities and refreshes, and modeled errors."""
    config = Config(retries={"max_attempts": 1})
    ec2c = boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", config=config)
    asg = boto3.client("autoscaling", endpoint_url=URL, region_name="us-east-1", config=config)
    results = {}
    ec2c.create_key_pair(KeyName="py-fleet")
    template = ec2c.create_launch_template(
        LaunchTemplateName="py-fleet",
        LaunchTemplateData={
            "ImageId": "ami-keyfleet-linux",
            "InstanceType": "t3.micro",
            "KeyName": "py-fleet",
            "MetadataOptions": {"HttpTokens": "required"},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "py"}]}],
        },
    )["LaunchTemplate"]
    results["template_id"] = template["LaunchTemplateId"].startswith("lt-")
    version = ec2c.create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"], SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.small"}
    )["LaunchTemplateVersion"]
    results["version"] = [version["VersionNumber"], version["LaunchTemplateData"]["KeyName"]]
    versions = ec2c.describe_launch_template_versions(LaunchTemplateName="py-fleet")["LaunchTemplateVersions"]
    results["versions"] = [v["VersionNumber"] for v in versions]
    results["duplicate_template"] = error_of(
        lambda: ec2c.create_launch_template(LaunchTemplateName="py-fleet", LaunchTemplateData={"ImageId": "ami-keyfleet-linux"})
    )[0]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="py-fleet",
        LaunchTemplate={"LaunchTemplateName": "py-fleet", "Version": "$Latest"},
        MinSize=2,
        MaxSize=4,
        AvailabilityZones=["us-east-1a", "us-east-1b"],
        Tags=[{"Key": "team", "Value": "py", "PropagateAtLaunch": True}],
    )
    for _ in range(300):
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["py-fleet"])["AutoScalingGroups"][0]
        if sum(1 for i in group["Instances"] if i["LifecycleState"] == "InService") == 2:
            break
        time.sleep(0.2)
    results["in_service"] = sorted(i["LifecycleState"] for i in group["Instances"])
    results["instance_template"] = sorted({i["LaunchTemplate"]["Version"] for i in group["Instances"]})
    results["created_time"] = isinstance(group["CreatedTime"], datetime.datetime)
    pages = asg.get_paginator("describe_scaling_activities").paginate(AutoScalingGroupName="py-fleet")
    activities = [a for page in pages for a in page["Activities"]]
    results["activities"] = sorted({a["StatusCode"] for a in activities})
    results["activity_details"] = json.loads(activities[0]["Details"])["Availability Zone"].startswith("us-east-1")
    instances = asg.describe_auto_scaling_instances()["AutoScalingInstances"]
    results["instances"] = sorted({i["AutoScalingGroupName"] for i in instances})
    refresh = asg.start_instance_refresh(AutoScalingGroupName="py-fleet", Preferences={"MinHealthyPercentage": 50})
    described = asg.describe_instance_refreshes(AutoScalingGroupName="py-fleet")["InstanceRefreshes"][0]
    results["refresh"] = described["InstanceRefreshId"] == refresh["InstanceRefreshId"]
    try:
        asg.start_instance_refresh(AutoScalingGroupName="py-fleet")
        results["second_refresh"] = None
    except asg.exceptions.InstanceRefreshInProgressFault as e:
        results["second_refresh"] = e.response["Error"]["Code"]
    try:
        asg.create_auto_scaling_group(
            AutoScalingGroupName="py-fleet", LaunchTemplate={"LaunchTemplateName": "py-fleet"}, MinSize=0, MaxSize=0,
            AvailabilityZones=["us-east-1a"],
        )
        results["duplicate_group"] = None
    except asg.exceptions.AlreadyExistsFault as e:
        results["duplicate_group"] = e.response["Error"]["Code"]
    results["bounds"] = error_of(lambda: asg.set_desired_capacity(AutoScalingGroupName="py-fleet", DesiredCapacity=9))
    asg.delete_auto_scaling_group(AutoScalingGroupName="py-fleet", ForceDelete=True)
    for _ in range(300):
        if not asg.describe_auto_scaling_groups(AutoScalingGroupNames=["py-fleet"])["AutoScalingGroups"]:
            break
        time.sleep(0.2)
    results["deleted"] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["py-fleet"])["AutoScalingGroups"] == []
    print(json.dumps(results))


if __name__ == "__main__":
    case = sys.argv[2]
    if case == "suite":
        suite()
    elif case == "auth":
        auth_cases()
    elif case == "sessions":
        session_cases()
    elif case == "stacks":
        stack_cases()
    elif case == "fleet":
        fleet_cases()
    elif case == "refusals":
        refusals_cases()
    elif case == "forgery":
        forgery_cases()
    elif case == "same-name":
        n = int(sys.argv[3])
        concurrent_create(["contested"] * n, n)
    elif case == "distinct-names":
        n = int(sys.argv[3])
        concurrent_create([f"k{i}" for i in range(n)], 32)
    elif case == "create-until-refused":
        create_until_refused(int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown case {case}")
