#!/usr/bin/env python3
"""Writes the NATS identities the lifecycle tests authenticate with.

Test-only keys, committed so that the tests need no key tools: an operator,
an account and a user with NATS 2 JWTs (decentralised authentication), and
the same user's NKey for a server that lists NKeys. Run it again to replace
them: python3 generate.py (needs python3-cryptography).

Formats, as nats-server 2 reads them:
- an NKey is base32 (no padding) of a prefix byte, the 32-byte Ed25519
  public key and a CRC-16/XMODEM, little-endian; a seed has two prefix
  bytes ('S' and the key's kind) and the 32-byte private seed;
- a JWT is base64url(header).base64url(claims).base64url(signature), the
  signature Ed25519 by the issuer's key, jti the base32 SHA-512/256 of the
  claims without it.
"""
import base64
import hashlib
import json
import os
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX = {"operator": 14 << 3, "account": 0, "user": 20 << 3}
SEED = 18 << 3
HERE = os.path.dirname(os.path.abspath(__file__))


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def encode(raw):
    raw += crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


class Identity:
    def __init__(self, kind):
        self.kind = kind
        self.key = Ed25519PrivateKey.generate()
        raw = serialization.Encoding.Raw
        self.seed_bytes = self.key.private_bytes(
            raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        public = self.key.public_key().public_bytes(
            raw, serialization.PublicFormat.Raw)
        prefix = PREFIX[kind]
        self.public = encode(bytes([prefix]) + public)
        self.seed = encode(
            bytes([SEED | prefix >> 5, (prefix & 31) << 3]) + self.seed_bytes)


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer, subject, nats):
    claims = {"iat": int(time.time()), "iss": issuer.public,
              "name": subject.kind, "sub": subject.public, "nats": nats}
    claims["jti"] = ""
    digest = hashlib.new("sha512_256",
                         json.dumps(claims).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = b64(json.dumps(claims).encode())
    signed = f"{header}.{body}".encode()
    return f"{header}.{body}.{b64(issuer.key.sign(signed))}"


def write(name, text):
    with open(os.path.join(HERE, name), "w") as out:
        out.write(text)


def main():
    operator, account, user = (Identity(k)
                               for k in ("operator", "account", "user"))
    unlimited = {"subs": -1, "data": -1, "payload": -1}
    operator_jwt = jwt(operator, operator,
                       {"type": "operator", "version": 2})
    account_jwt = jwt(operator, account, {
        "limits": dict(unlimited, imports=-1, exports=-1, wildcards=True,
                       conn=-1, leaf=-1),
        "type": "account", "version": 2})
    user_jwt = jwt(account, user, dict(unlimited, pub={}, sub={},
                                       type="user", version=2))
    write("operator.conf",
          "# Decentralised authentication: the test operator and account.\n"
          f'operator: "{operator_jwt}"\n'
          "resolver: MEMORY\n"
          f'resolver_preload: {{\n  {account.public}: "{account_jwt}"\n}}\n')
    write("user.creds",
          "-----BEGIN NATS USER JWT-----\n"
          f"{user_jwt}\n"
          "------END NATS USER JWT------\n\n"
          "Test-only user of the Reverb lifecycle tests.\n\n"
          "-----BEGIN USER NKEY SEED-----\n"
          f"{user.seed}\n"
          "------END USER NKEY SEED------\n")
    write("nkey.conf",
          "# NKey authentication: the test user's public key.\n"
          f'authorization {{\n  users: [ {{ nkey: "{user.public}" }} ]\n}}\n')
    write("user.nk", user.seed + "\n")
    write("user.pub", user.public + "\n")


if __name__ == "__main__":
    main()
