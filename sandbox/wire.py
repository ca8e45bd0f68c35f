"""What an AWS request looks like on the wire, and AWS's error answers in each protocol.

botocore 1.44 signs every request with SigV4, so the ``Authorization`` header names the
access key, the region and the signing name of the service (``ec2``, ``monitoring``,
``sts``, ``ce``, ``ses``...). The operation is in the form body (``Action=...``) for the
query and EC2 protocols, and in ``X-Amz-Target`` for the JSON protocol (Cost Explorer,
and CloudWatch, which botocore 1.44 speaks as awsJson 1.0 with query compatibility).

>>> auth = ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261127/eu-west-1/monitoring/"
...         "aws4_request, SignedHeaders=host, Signature=00")
>>> env = {"HTTP_AUTHORIZATION": auth, "REQUEST_METHOD": "POST", "PATH_INFO": "/",
...        "HTTP_X_AMZ_TARGET": "GraniteServiceVersion20100801.GetMetricData",
...        "CONTENT_TYPE": "application/x-amz-json-1.0"}
>>> req = AwsRequest.from_environ(env, b'{"MetricDataQueries": []}')
>>> (req.access_key, req.region, req.service, req.operation, req.protocol)
('AKIAEXAMPLE', 'eu-west-1', 'monitoring', 'GetMetricData', 'json')
>>> req.json()
{'MetricDataQueries': []}
>>> status, headers, body = ApiError("Throttling", "Rate exceeded").render(req)
>>> status, dict(headers)["x-amzn-query-error"]
(400, 'Throttling;Sender')
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")

Headers = list[tuple[str, str]]

# XML namespaces of the query-protocol services whose errors the sandbox may render.
_XMLNS = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "ses": "http://ses.amazonaws.com/doc/2010-12-01/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
# Services botocore 1.44 reaches through awsJson with query-compatible error codes.
_QUERY_COMPATIBLE = {"monitoring"}


@dataclass(frozen=True)
class AwsRequest:
    """The parts of one signed AWS request the sandbox routes and counts on."""

    access_key: str
    region: str
    service: str
    operation: str
    protocol: str  # "json", "query" or "ec2"
    body: bytes
    json_version: str = "1.1"

    @classmethod
    def from_environ(cls, environ: dict[str, Any], body: bytes) -> AwsRequest | None:
        """The request in a WSGI environ, or ``None`` when it is not SigV4-signed AWS API."""
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not match:
            return None
        access_key, region, service = match.groups()
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        content_type = environ.get("CONTENT_TYPE", "")
        if target and "json" in content_type:
            version = content_type.rsplit("-", 1)[-1] if "amz-json-" in content_type else "1.1"
            return cls(
                access_key, region, service, target.rsplit(".", 1)[-1], "json", body, version
            )
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        protocol = "ec2" if service == "ec2" else "query"
        return cls(access_key, region, service, action, protocol, body)

    def json(self) -> dict[str, Any]:
        """The JSON body (JSON protocol); ``{}`` when empty."""
        data = json.loads(self.body or b"{}")
        return data if isinstance(data, dict) else {}

    def form(self) -> dict[str, str]:
        """The form parameters (query and EC2 protocols), first value of each."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}


class ApiError(Exception):
    """An AWS error answer: ``code``, ``message`` and HTTP ``status``, rendered per protocol."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender

    def render(self, request: AwsRequest) -> tuple[int, Headers, bytes]:
        """Status, headers and body as the service would send them for ``request``."""
        request_id = str(uuid.uuid4())
        fault = "Sender" if self.sender else "Receiver"
        if request.protocol == "json":
            headers: Headers = [
                ("Content-Type", f"application/x-amz-json-{request.json_version}"),
                ("x-amzn-RequestId", request_id),
            ]
            if request.service in _QUERY_COMPATIBLE:
                headers.append(("x-amzn-query-error", f"{self.code};{fault}"))
            body = json.dumps({"__type": self.code, "message": self.message}).encode()
            return self.status, headers, body
        code, message = escape(self.code), escape(self.message)
        if request.protocol == "ec2":
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
        else:
            xmlns = _XMLNS.get(request.service, "https://amazonaws.com/doc/")
            xml = (
                f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{fault}</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        return (
            self.status,
            [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)],
            xml.encode(),
        )


def json_answer(request: AwsRequest, payload: dict[str, Any]) -> tuple[int, Headers, bytes]:
    """A 200 JSON-protocol answer carrying ``payload``."""
    headers = [
        ("Content-Type", f"application/x-amz-json-{request.json_version}"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    return 200, headers, json.dumps(payload).encode()
