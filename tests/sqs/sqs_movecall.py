"""sqs_movecall.py - the move-task actions for any boto3, shared by
sqs_dlq_boto3.py and sqs_movetask_restart.py. boto3's own method when it
has one (1.43 on PATH); else (Debian's 1.26 lacks StartMessageMoveTask,
ListMessageMoveTasks and CancelMessageMoveTask) a query-protocol form
signed by botocore's SigV4 signer and its XML result read here.
"""
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
INTS = {"ApproximateNumberOfMessagesMoved", "ApproximateNumberOfMessagesToMove",
        "MaxNumberOfMessagesPerSecond", "StartedTimestamp"}


class Refused(Exception):
    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message = code, message


def xml_entry(el):
    return {c.tag.replace(NS, ""): int(c.text)
            if c.tag.replace(NS, "") in INTS else c.text for c in el}


class Caller:
    def __init__(self, sqs, endpoint, key, secret):
        self.sqs, self.endpoint = sqs, endpoint
        self.creds = Credentials(key, secret)

    def raw_query(self, action, params):
        """A query-protocol request signed by botocore, its result read."""
        form = dict(params, Action=action, Version="2012-11-05")
        req = AWSRequest(method="POST", url=self.endpoint + "/",
                         data=urllib.parse.urlencode(form),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded"})
        SigV4Auth(self.creds, "sqs", "us-east-1").add_auth(req)
        body = req.body if isinstance(req.body, bytes) else req.body.encode()
        r = urllib.request.Request(self.endpoint + "/", data=body,
                                   headers=dict(req.headers), method="POST")
        try:
            with urllib.request.urlopen(r) as resp:
                root = ET.fromstring(resp.read())
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                err = ET.fromstring(text).find(NS + "Error")
                code = err.find(NS + "Code").text
                msg = err.find(NS + "Message").text
            except (ET.ParseError, AttributeError):
                code, msg = "HTTP %d" % e.code, text.decode(errors="replace")
            raise Refused(code, msg)
        res = root.find(NS + action + "Result")
        if action == "ListMessageMoveTasks":
            return {"Results": [xml_entry(e) for e in res.findall(
                NS + "ListMessageMoveTasksResultEntry")]}
        return xml_entry(res)

    def call(self, action, **params):
        """boto3's method when it has one, else the signed query form."""
        snake = "".join("_" + c.lower() if c.isupper() else c
                        for c in action).lstrip("_")
        if hasattr(self.sqs, snake):
            try:
                return getattr(self.sqs, snake)(**params)
            except ClientError as e:
                raise Refused(e.response["Error"]["Code"],
                              e.response["Error"].get("Message", ""))
        return self.raw_query(action,
                              {k: str(v) for k, v in params.items()})
