#!/usr/bin/env python3
"""sqs_digest.py - SQS's MD5OfMessageAttributes, for the tests of txq-sqs:
the SDKs the tests drive check no digest of the attributes themselves.

    sqs_digest.py ATTRIBUTES_JSON

prints the digest of a MessageAttributes map in the JSON protocol's shape
(BinaryValue as base64); sqs_boto3.py imports md5_attrs.
"""
import base64
import hashlib
import json
import struct
import sys


def md5_attrs(attrs):
    """SQS's MD5OfMessageAttributes, written from its developer guide:
    sorted by name; name, DataType (4-byte length, bytes), transport byte
    (1 String/Number, 2 Binary), value (length, bytes)."""
    h = hashlib.md5()

    def lv(b):
        h.update(struct.pack(">I", len(b)))
        h.update(b)
    for name in sorted(attrs):
        a = attrs[name]
        lv(name.encode())
        lv(a["DataType"].encode())
        if "BinaryValue" in a:
            v = a["BinaryValue"]
            h.update(b"\x02")
            lv(v if isinstance(v, bytes) else base64.b64decode(v))
        else:
            h.update(b"\x01")
            lv(a["StringValue"].encode())
    return h.hexdigest()


if __name__ == "__main__":
    print(md5_attrs(json.loads(sys.argv[1])))
