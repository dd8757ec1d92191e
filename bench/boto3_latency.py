"""What a user's boto3 script sees: python3 boto3_latency.py URL N.

Runs each call N times, one at a time, against one endpoint (loopback only), and prints a
line per call: its name, then p50 and p99 latency in milliseconds. Each call type stops early
after 30 s, so a slow server is measured on fewer calls. The server must accept any
credentials (keyfleet --dev, moto) and start empty.
"""
import sys
import time

import boto3
from botocore.config import Config

URL, N = sys.argv[1], int(sys.argv[2])
DEADLINE_S = 30.0
assert URL.startswith(("http://127.", "http://localhost")), "loopback only"

ec2 = boto3.client(
    "ec2",
    endpoint_url=URL,
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="bench-secret",
    config=Config(retries={"max_attempts": 1}),
)


def measure(name, call, n):
    started, latencies = time.perf_counter(), []
    for i in range(n):
        if time.perf_counter() - started > DEADLINE_S:
            break
        t = time.perf_counter()
        call(i)
        latencies.append((time.perf_counter() - t) * 1000.0)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{name} {p50:.3f} {p99:.3f} {len(latencies)}", flush=True)


ec2.describe_key_pairs()  # the client's first call loads its model and opens the connection
measure("create-rsa", lambda i: ec2.create_key_pair(KeyName=f"rsa{i}", KeyType="rsa"), min(N, 40))
measure("create-ed25519", lambda i: ec2.create_key_pair(KeyName=f"k{i}", KeyType="ed25519"), N)
measure("describe-one", lambda i: ec2.describe_key_pairs(KeyNames=[f"k{i}"]), N)
measure("delete", lambda i: ec2.delete_key_pair(KeyName=f"k{i}"), N)
