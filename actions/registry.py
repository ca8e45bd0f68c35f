"""The actions SpendSense can take, registered by name, each declaring its IAM permissions.

As collectors do (Cloud Custodian's way): a small class per action, a kebab-case name,
the IAM actions it needs, a pydantic schema for its parameters and ``run``. Actions in
the customer's account (``stop``, ``tag``) go through the tenant's assumed role; ``email``
runs in SpendSense's own account. :func:`customer_permissions` is what the customer
role's policy must allow.

>>> sorted(ACTIONS)
['email', 'stop', 'tag']
>>> customer_permissions()  # doctest: +NORMALIZE_WHITESPACE
['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:DescribeInstanceAttribute',
 'ec2:DescribeInstanceTypes', 'ec2:DescribeInstances', 'ec2:StartInstances',
 'ec2:StopInstances']
>>> ACTIONS["tag"].Params(set={"spendsense:stop-after": "2026-11-27T10:00:00Z"}).remove
[]
"""

from __future__ import annotations

from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from spendsense.registry import Registry

Account = Literal["customer", "spendsense"]


class ActionPlugin:
    """Base of every registered action: its name, where it runs, what IAM it needs."""

    name: ClassVar[str]
    account: ClassVar[Account] = "customer"
    permissions: ClassVar[tuple[str, ...]] = ()

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")


ACTIONS: Registry[type[ActionPlugin]] = Registry("action")


@ACTIONS.register("stop")
class StopInstance(ActionPlugin):
    """Stop an EC2 instance (or start it again) in the customer's account.

    The rails read the instance, its stop protection and whether its type has
    instance-store volumes (whose data a stop would erase) before acting.
    """

    name = "stop"
    permissions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeInstanceTypes",
        "ec2:StopInstances",
        "ec2:StartInstances",
    )

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        hibernate: bool = False

    @staticmethod
    def run(ec2: Any, instance_id: str, params: StopInstance.Params | None = None) -> str:
        """Stop; returns the state EC2 reports right after (``stopping`` usually)."""
        p = params or StopInstance.Params()
        resp = ec2.stop_instances(InstanceIds=[instance_id], Hibernate=p.hibernate)
        return str(resp["StoppingInstances"][0]["CurrentState"]["Name"])

    @staticmethod
    def undo(ec2: Any, instance_id: str) -> str:
        """Start again; returns the state EC2 reports right after (``pending`` usually)."""
        resp = ec2.start_instances(InstanceIds=[instance_id])
        return str(resp["StartingInstances"][0]["CurrentState"]["Name"])


@ACTIONS.register("tag")
class TagInstance(ActionPlugin):
    """Set and remove tags on an instance (the auto-stop grace mark)."""

    name = "tag"
    permissions = ("ec2:CreateTags", "ec2:DeleteTags")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        set: dict[str, str] = Field(default_factory=dict)
        remove: list[str] = Field(default_factory=list)

    @staticmethod
    def run(ec2: Any, instance_id: str, params: TagInstance.Params) -> None:
        if params.set:
            ec2.create_tags(
                Resources=[instance_id],
                Tags=[{"Key": k, "Value": v} for k, v in sorted(params.set.items())],
            )
        if params.remove:
            ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": k} for k in params.remove])


@ACTIONS.register("email")
class SendEmail(ActionPlugin):
    """Send one HTML + plain-text email through SES in SpendSense's own account."""

    name = "email"
    account = "spendsense"
    permissions = ("ses:SendRawEmail",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sender: str
        recipient: str
        subject: str
        text: str
        html: str
        idempotency_key: str

    @staticmethod
    def message(p: SendEmail.Params) -> bytes:
        """The MIME message: multipart/alternative, the idempotency key in a header."""
        msg = MIMEMultipart("alternative")
        msg["Subject"] = p.subject
        msg["From"] = p.sender
        msg["To"] = p.recipient
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=p.idempotency_key[:16], domain="spendsense")
        msg["X-SpendSense-Idempotency-Key"] = p.idempotency_key
        msg.attach(MIMEText(p.text, "plain", "utf-8"))
        msg.attach(MIMEText(p.html, "html", "utf-8"))
        return msg.as_bytes()

    @staticmethod
    def run(ses: Any, params: SendEmail.Params) -> str:
        """Send; returns SES's message id. SES errors propagate as botocore ClientError."""
        resp = ses.send_raw_email(
            Source=params.sender,
            Destinations=[params.recipient],
            RawMessage={"Data": SendEmail.message(params)},
        )
        return str(resp["MessageId"])


def customer_permissions() -> list[str]:
    """The IAM actions the customer role must allow for every action run in their account."""
    perms: set[str] = set()
    for _, plugin in ACTIONS.items():
        if plugin.account == "customer":
            perms.update(plugin.permissions)
    return sorted(perms)
