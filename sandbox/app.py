"""The sandbox's WSGI middleware around moto's server application.

In front of moto it: counts every AWS call by (account, service, operation); applies the
fault plan; applies the seeded resources' changes as they come due; enforces role trust
policies on STS AssumeRole; answers CloudWatch reads of the fleet's EC2 and other resources'
metrics and Cost Explorer's GetCostAndUsage itself; refuses to stop
instance-store-root and spot instances as EC2 does; notes instance state changes (a
stopped instance produces no points) and records the mail SES accepted. Everything
else goes to moto unchanged. Its own control endpoints live under ``/_sandbox/``.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from pydantic import ValidationError

from sandbox import cloudwatch
from sandbox.accounts import TENANT_USER
from sandbox.clock import SandboxClock
from sandbox.costs import (
    CLOUDWATCH,
    COST_EXPLORER,
    PER_CE_CALL,
    PER_METRIC_REQUESTED,
    CostExplorer,
    Metering,
)
from sandbox.faults import FaultPlan, FaultRule
from sandbox.identity import PARTITION, account_of, caller_of, ensure_user
from sandbox.mail import MailLog, SentMail, message_from_send_email, message_from_send_raw_email
from sandbox.resource_events import ResourceEvents
from sandbox.timeline import Timeline
from sandbox.trust import allows, parse_policy
from sandbox.wire import ApiError, AwsRequest, Headers, json_answer

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, Headers, bytes]
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")
_MESSAGE_ID = re.compile(rb"<MessageId>([^<]+)</MessageId>")
_STATE_CHANGES = {"StopInstances", "StartInstances", "TerminateInstances"}


@dataclass
class SandboxState:
    """Everything the middleware knows beyond moto's backends."""

    timeline: Timeline
    vendor_account: str
    tenants: list[str]
    endpoint: str = ""
    ready: bool = False
    faults: FaultPlan = field(default_factory=FaultPlan)
    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    faulted: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # metrics requested per GetMetricData key: what CloudWatch bills ($0.01 per 1,000)
    metrics: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    metering: Metering = field(default_factory=Metering)
    mail: MailLog = field(default_factory=MailLog)
    events: ResourceEvents = field(default_factory=ResourceEvents)
    """Later changes to seeded resources, applied before each AWS call once due."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def clock(self) -> SandboxClock:
        return self.timeline.clock


def _respond(start_response: Callable[..., Any], answer: Answer) -> list[bytes]:
    status, headers, body = answer
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    start_response(f"{status} {phrase}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _json(status: int, payload: object) -> Answer:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def _instance_ids(form: dict[str, str]) -> list[str]:
    return [v for k, v in sorted(form.items()) if k.startswith("InstanceId.")]


class SandboxApp:
    """The WSGI application the sandbox serves: control endpoints, then AWS through moto."""

    def __init__(self, moto_app: WsgiApp, state: SandboxState) -> None:
        self.moto_app = moto_app
        self.state = state

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return _respond(start_response, self._control(environ, path))
        if path.startswith("/moto-api/reset"):
            refusal = {"error": "the sandbox's seeded state cannot be reset; restart the sandbox"}
            return _respond(start_response, _json(409, refusal))
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read()
        else:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        request = AwsRequest.from_environ(environ, body)
        if not self.state.ready:
            return _respond(start_response, _json(503, {"status": "seeding"}))
        if request is None:
            return self.moto_app(environ, start_response)
        try:
            answer = self._aws(request, environ)
        except ApiError as error:
            answer = error.render(request)
        return _respond(start_response, answer)

    # -- AWS calls ---------------------------------------------------------------------

    def _aws(self, request: AwsRequest, environ: dict[str, Any]) -> Answer:
        state = self.state
        account = account_of(request.access_key)
        key = (account, request.service, request.operation)
        with state.lock:
            state.calls[key] += 1
        delay, error = state.faults.decide(
            request.service, request.operation, account, request.region
        )
        if delay:
            time.sleep(delay)
        if error is not None:
            with state.lock:
                state.faulted[key] += 1
            raise error
        state.events.apply_due(state.clock.now())
        handler = {
            ("sts", "AssumeRole"): self._assume_role,
            ("monitoring", "GetMetricData"): self._get_metric_data,
            ("monitoring", "GetMetricStatistics"): self._get_metric_statistics,
            ("monitoring", "ListMetrics"): self._list_metrics,
            ("ce", "GetCostAndUsage"): self._get_cost_and_usage,
            ("ec2", "StopInstances"): self._stop_instances,
            ("ses", "SendEmail"): self._send_email,
            ("ses", "SendRawEmail"): self._send_email,
        }.get((request.service, request.operation))
        if request.service == "monitoring" and handler is not None and request.protocol != "json":
            raise ApiError(
                "InvalidAction",
                "The sandbox serves CloudWatch metric reads over awsJson 1.0 only, as botocore "
                "1.44 sends them; upgrade boto3/botocore",
            )
        if handler is not None:
            return handler(request, environ, account)
        answer = self._moto(environ)
        if request.service == "ec2" and request.operation in _STATE_CHANGES and answer[0] == 200:
            self._note_states(request, account)
        return answer

    def _moto(self, environ: dict[str, Any]) -> Answer:
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        chunks = self.moto_app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        return captured["status"], headers, body

    def _assume_role(self, request: AwsRequest, environ: dict[str, Any], account: str) -> Answer:
        form = request.form()
        role_arn = form.get("RoleArn", "")
        caller = caller_of(request.access_key)
        denied = ApiError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            403,
        )
        match = _ROLE_ARN.match(role_arn)
        if not match:
            raise denied
        role_account, role_name = match.groups()
        roles = iam_backends[role_account][PARTITION].roles if role_account in iam_backends else {}
        role = next((r for r in roles.values() if r.name == role_name), None)
        if role is None or not allows(
            parse_policy(role.assume_role_policy_document), caller, form.get("ExternalId")
        ):
            raise denied
        return self._moto(environ)

    def _get_metric_data(
        self, request: AwsRequest, environ: dict[str, Any], account: str
    ) -> Answer:
        params = request.json()
        queries = params.get("MetricDataQueries") or []
        with self.state.lock:
            self.state.metrics[(account, request.service, request.operation)] += len(queries)
        self.state.metering.add(
            account, CLOUDWATCH, self.state.clock.now(), len(queries) * PER_METRIC_REQUESTED
        )
        if not cloudwatch.is_fleet_query(params):
            return self._moto(environ)
        scope = cloudwatch.MetricScope(self.state.timeline, account, request.region)
        return json_answer(request, cloudwatch.get_metric_data(scope, params))

    def _get_metric_statistics(
        self, request: AwsRequest, environ: dict[str, Any], account: str
    ) -> Answer:
        return self._fleet_namespace(request, environ, account, cloudwatch.get_metric_statistics)

    def _list_metrics(self, request: AwsRequest, environ: dict[str, Any], account: str) -> Answer:
        return self._fleet_namespace(request, environ, account, cloudwatch.list_metrics)

    def _fleet_namespace(
        self,
        request: AwsRequest,
        environ: dict[str, Any],
        account: str,
        serve: Callable[[cloudwatch.MetricScope, dict[str, Any]], dict[str, Any]],
    ) -> Answer:
        """``serve``'s answer from the fleet for its namespaces (``AWS/EC2`` and the other
        resources'); moto's for any other."""
        params = request.json()
        if params.get("Namespace") not in cloudwatch.FLEET_NAMESPACES:
            return self._moto(environ)
        scope = cloudwatch.MetricScope(self.state.timeline, account, request.region)
        return json_answer(request, serve(scope, params))

    def _get_cost_and_usage(
        self, request: AwsRequest, environ: dict[str, Any], account: str
    ) -> Answer:
        self.state.metering.add(account, COST_EXPLORER, self.state.clock.now(), PER_CE_CALL)
        explorer = CostExplorer(self.state.timeline, self.state.metering)
        return json_answer(request, explorer.get_cost_and_usage(account, request.json()))

    def _stop_instances(self, request: AwsRequest, environ: dict[str, Any], account: str) -> Answer:
        form = request.form()
        backend: Any = ec2_backends[account][request.region]
        for iid in _instance_ids(form):
            instance = next((i for i in backend.all_instances() if i.id == iid), None)
            if instance is None:
                continue  # moto answers InvalidInstanceID.NotFound
            if instance.root_device_type != "ebs":
                raise ApiError(
                    "UnsupportedOperation",
                    f"The instance '{iid}' does not have an 'ebs' root device type and cannot be stopped.",
                )
            if instance.lifecycle == "spot":
                raise ApiError(
                    "UnsupportedOperation",
                    f"You can't stop the Spot Instance '{iid}' because it is associated with a one-time "
                    "Spot Instance request. You can only stop Spot Instances associated with persistent "
                    "Spot Instance requests.",
                )
        answer = self._moto(environ)
        if answer[0] == 200:
            self._note_states(request, account)
        return answer

    def _note_states(self, request: AwsRequest, account: str) -> None:
        backend: Any = ec2_backends[account][request.region]
        wanted = set(_instance_ids(request.form()))
        for instance in backend.all_instances():
            if instance.id in wanted:
                self.state.timeline.record(instance.id, instance.state)

    def _send_email(self, request: AwsRequest, environ: dict[str, Any], account: str) -> Answer:
        answer = self._moto(environ)
        if answer[0] != 200:
            return answer
        form = request.form()
        if request.operation == "SendEmail":
            message: SentMail = message_from_send_email(form)
        else:
            message = message_from_send_raw_email(form)
        found = _MESSAGE_ID.search(answer[2])
        message.message_id = found.group(1).decode() if found else ""
        message.account, message.region, message.sent_at = (
            account,
            request.region,
            self.state.clock.now(),
        )
        self.state.mail.add(message)
        return answer

    # -- control endpoints -------------------------------------------------------------

    def _control(self, environ: dict[str, Any], path: str) -> Answer:
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return _json(400, {"error": "the body must be JSON"})
        route = {
            ("GET", "/_sandbox/health"): self._health,
            ("GET", "/_sandbox/clock"): lambda _: _json(200, self.state.clock.state()),
            ("POST", "/_sandbox/clock"): self._advance,
            ("GET", "/_sandbox/faults"): lambda _: _json(200, self.state.faults.state()),
            ("POST", "/_sandbox/faults"): self._set_faults,
            ("DELETE", "/_sandbox/faults"): self._clear_faults,
            ("GET", "/_sandbox/calls"): self._calls,
            ("DELETE", "/_sandbox/calls"): self._reset_calls,
            ("GET", "/_sandbox/mail"): lambda _: _json(200, {"messages": self.state.mail.all()}),
            ("DELETE", "/_sandbox/mail"): self._clear_mail,
            ("GET", "/_sandbox/accounts"): self._accounts,
            ("POST", "/_sandbox/accounts"): self._add_account,
            ("GET", "/_sandbox/fleet"): self._fleet,
        }.get((method, path))
        if route is None:
            return _json(404, {"error": f"no sandbox endpoint {method} {path}"})
        if not self.state.ready and path != "/_sandbox/health":
            return _json(503, {"status": "seeding"})
        return route(body)

    def _health(self, _: Any) -> Answer:
        state = self.state
        payload = {
            "status": "ready" if state.ready else "seeding",
            "endpoint": state.endpoint,
            "vendor_account": state.vendor_account,
            "tenant_accounts": state.tenants,
            "instances": len(state.timeline.fleet.instances),
            "clock": state.clock.state(),
        }
        return _json(200 if state.ready else 503, payload)

    def _advance(self, body: dict[str, Any]) -> Answer:
        seconds = body.get("advance_s")
        if not isinstance(seconds, int | float) or seconds < 0:
            return _json(400, {"error": "advance_s must be a number of seconds >= 0"})
        self.state.clock.advance(float(seconds))
        return _json(200, self.state.clock.state())

    def _set_faults(self, body: dict[str, Any]) -> Answer:
        specs = body.get("rules", [body]) if isinstance(body, dict) else body
        try:
            rules = [FaultRule(**spec) for spec in specs]
        except (ValidationError, TypeError) as exc:
            return _json(400, {"error": f"bad fault rule: {exc}"})
        self.state.faults = FaultPlan(rules)
        return _json(200, self.state.faults.state())

    def _clear_faults(self, _: Any) -> Answer:
        self.state.faults = FaultPlan()
        return _json(200, self.state.faults.state())

    def _calls(self, _: Any) -> Answer:
        with self.state.lock:
            rows = [
                {
                    "account": a,
                    "service": s,
                    "operation": o,
                    "count": n,
                    "faulted": self.state.faulted[(a, s, o)],
                    "metrics": self.state.metrics[(a, s, o)],
                }
                for (a, s, o), n in sorted(self.state.calls.items())
            ]
        return _json(200, {"calls": rows})

    def _reset_calls(self, _: Any) -> Answer:
        with self.state.lock:
            self.state.calls.clear()
            self.state.faulted.clear()
            self.state.metrics.clear()
        return _json(200, {"calls": []})

    def _clear_mail(self, _: Any) -> Answer:
        self.state.mail.clear()
        return _json(200, {"messages": []})

    def _accounts(self, _: Any) -> Answer:
        return _json(
            200,
            {"vendor_account": self.state.vendor_account, "tenant_accounts": self.state.tenants},
        )

    def _add_account(self, body: dict[str, Any]) -> Answer:
        account = str(body.get("account_id", ""))
        if not re.fullmatch(r"\d{12}", account):
            return _json(400, {"error": "account_id must be 12 digits"})
        key, secret = ensure_user(account, TENANT_USER)
        return _json(
            200,
            {
                "account_id": account,
                "user": TENANT_USER,
                "access_key_id": key,
                "secret_access_key": secret,
            },
        )

    def _fleet(self, _: Any) -> Answer:
        timeline = self.state.timeline
        labels = {
            iid: (timeline.sandbox_time(when.timestamp()) if when is not None else None)
            for iid, when in timeline.fleet.labels.items()
        }
        return _json(200, {"shift_s": timeline.shift, "labels": labels})
