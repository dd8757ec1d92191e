// The AWS SDK for JavaScript v3 against a running keyfleet: node sdk.mjs URL.
// Credentials and region come from the environment the Rust harness sets; prints one JSON
// document, and exits non-zero on any error.
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import {
  CreateKeyPairCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstanceStatusCommand,
  DescribeKeyPairsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  waitUntilInstanceStatusOk,
} from "@aws-sdk/client-ec2";
import { EC2InstanceConnectClient, SendSSHPublicKeyCommand } from "@aws-sdk/client-ec2-instance-connect";
import { AddTagsToResourceCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { generateKeyPairSync } from "node:crypto";

const config = { endpoint: process.argv[2], region: "us-east-1", maxAttempts: 1 };
const ec2 = new EC2Client(config);
const created = await ec2.send(new CreateKeyPairCommand({ KeyName: "from-js", KeyType: "ed25519" }));
const listed = await ec2.send(new DescribeKeyPairsCommand({}));
const trail = new CloudTrailClient(config);
const events = await trail.send(
  new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "CreateKeyPair" }] }),
);

const zones = await ec2.send(new DescribeAvailabilityZonesCommand({}));
const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }));
const run = await ec2.send(new RunInstancesCommand({ ImageId: "ami-keyfleet-linux", MinCount: 1, MaxCount: 1 }));
const instanceId = run.Instances[0].InstanceId;
await waitUntilInstanceStatusOk({ client: ec2, maxWaitTime: 60, minDelay: 1 }, { InstanceIds: [instanceId] });
const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));

// EC2 Instance Connect: a fresh Ed25519 key in OpenSSH's public form (RFC 8709).
const { publicKey } = generateKeyPairSync("ed25519");
const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
const sshString = (bytes) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
const pushed = await new EC2InstanceConnectClient(config).send(new SendSSHPublicKeyCommand({
  InstanceId: instanceId,
  InstanceOSUser: "ec2-user",
  SSHPublicKey: `ssh-ed25519 ${blob.toString("base64")} from-js`,
}));

const ssm = new SSMClient(config);
await ssm.send(new PutParameterCommand({ Name: "/js/param", Value: "v", Type: "String", Tags: [{ Key: "team", Value: "ops" }] }));
await ssm.send(new AddTagsToResourceCommand({ ResourceType: "Parameter", ResourceId: "/js/param", Tags: [{ Key: "env", Value: "dev" }] }));
const tags = await ssm.send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: "/js/param" }));

const identity = await new STSClient(config).send(new GetCallerIdentityCommand({}));

console.log(JSON.stringify({
  created: created.KeyName,
  material: created.KeyMaterial.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"),
  listed: listed.KeyPairs.map((k) => k.KeyName),
  events: events.Events.map((e) => e.EventName),
  zones: zones.AvailabilityZones.length,
  defaultVpc: vpcs.Vpcs[0].IsDefault,
  instanceStatus: status.InstanceStatuses[0].InstanceStatus.Status,
  pushed: pushed.Success,
  tags: tags.TagList,
  account: identity.Account,
}));
