// The AWS SDK for JavaScript v3 against a running keyfleet: node sdk.mjs URL.
// Credentials and region come from the environment the Rust harness sets; prints one JSON
// document, and exits non-zero on any error.
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { DescribeKeyPairsCommand, EC2Client, CreateKeyPairCommand } from "@aws-sdk/client-ec2";

const config = { endpoint: process.argv[2], region: "us-east-1", maxAttempts: 1 };
const ec2 = new EC2Client(config);
const created = await ec2.send(new CreateKeyPairCommand({ KeyName: "from-js", KeyType: "ed25519" }));
const listed = await ec2.send(new DescribeKeyPairsCommand({}));
const trail = new CloudTrailClient(config);
const events = await trail.send(
  new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "CreateKeyPair" }] }),
);
console.log(JSON.stringify({
  created: created.KeyName,
  material: created.KeyMaterial.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"),
  listed: listed.KeyPairs.map((k) => k.KeyName),
  events: events.Events.map((e) => e.EventName),
}));
