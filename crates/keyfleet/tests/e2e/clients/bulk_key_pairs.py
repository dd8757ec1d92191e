"""Imports COUNT key pairs named PREFIX-000… with one public key: a table to page through."""
import sys

import boto3

url, prefix, count, public_key = sys.argv[1].split(",")[0], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ec2 = boto3.client("ec2", endpoint_url=url)
for i in range(count):
    ec2.import_key_pair(KeyName=f"{prefix}-{i:03d}", PublicKeyMaterial=public_key.encode())
print(count)
