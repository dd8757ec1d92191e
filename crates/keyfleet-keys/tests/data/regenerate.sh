#!/usr/bin/env bash
# Regenerates the derived fixtures from the two private keys, with the reference tools.
# aws_rsa.pem and ed25519 are vectors B and C (docs/aws-facts.md, "Fingerprint test vectors");
# everything else here is computed from them by ssh-keygen, openssl and puttygen.
set -euo pipefail
cd "$(dirname "$0")"
chmod 600 aws_rsa.pem ed25519
ssh-keygen -y -f aws_rsa.pem > aws_rsa.pub
ssh-keygen -y -f ed25519 > ed25519.pub
ssh-keygen -e -f aws_rsa.pub > aws_rsa.rfc4716
ssh-keygen -e -f ed25519.pub > ed25519.rfc4716
openssl rsa -in aws_rsa.pem -pubout -outform DER 2>/dev/null | base64 -w0 > aws_rsa.spki.b64
openssl rsa -in aws_rsa.pem -RSAPublicKey_out -outform DER 2>/dev/null | base64 -w0 > aws_rsa.pkcs1.b64
ssh-keygen -t ecdsa -N '' -C ecdsa -f /tmp/kf-ecdsa -q <<<y >/dev/null
cp /tmp/kf-ecdsa.pub ecdsa.pub
puttygen aws_rsa.pem -O private -o aws_rsa.ppk --ppk-param version=2 -C kf-vector
puttygen ed25519 -O private -o ed25519.ppk --ppk-param version=2 -C kf-vector
# The fingerprints AWS shows (docs/aws-facts.md, "Fingerprint test vectors"), for the README of these fixtures.
{
  echo "created_rsa $(openssl pkcs8 -in aws_rsa.pem -topk8 -nocrypt -outform DER | openssl sha1 -c | awk '{print $2}')"
  echo "imported_rsa $(openssl rsa -in aws_rsa.pem -pubout -outform DER 2>/dev/null | openssl md5 -c | awk '{print $2}')"
  echo "ed25519 $(ssh-keygen -lf ed25519.pub | awk '{print $2}' | sed 's/^SHA256://')="
} > fingerprints.txt
