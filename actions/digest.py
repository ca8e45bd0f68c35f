"""The digest email: what it shows of each idle instance and each usage anomaly, rendered
from the package's templates.

:func:`tenant_digest` turns a tenant's pending :class:`InstanceAlertState` rows into one
:class:`Digest` (subject, plain text, HTML): each instance with its signed Stop and
"Not idle" links (:mod:`actions.links`), its page on the dashboard and, when auto-stop is
on, when it will be stopped; then, in a section of their own, the pending
:class:`AnomalyAlertState` incidents with their "Expected" links
(:mod:`actions.anomaly_items`); then the pending wasted resources grouped by kind, each
kind with its count and dollars a month (:mod:`actions.waste_digest`).
:func:`render_digest` fills ``templates/digest.{txt,html}.j2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import object_session

from actions.anomaly_items import AnomalyItem, anomaly_items
from actions.links import detail_url, link_url, sign
from actions.schedules.scheduler import schedule_failures
from actions.waste_digest import WasteGroup, waste_groups
from spendsense.settings import ActionsSettings
from spendsense.store.models import AnomalyAlertState, InstanceAlertState, Tenant
from spendsense.store.models.waste import WasteAlertState

_templates = Environment(
    loader=PackageLoader("actions", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class DigestItem:
    """One instance as the digest shows it."""

    instance_id: str
    name: str
    region: str
    instance_type: str
    idle_since: str
    reason: str
    monthly_waste_usd: float
    stop_url: str
    not_idle_url: str
    detail_url: str
    grace: str = ""


@dataclass(frozen=True)
class Digest:
    """A rendered email: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def subject_of(
    items: Sequence[DigestItem],
    anomalies: Sequence[AnomalyItem],
    waste: Sequence[WasteGroup] = (),
) -> str:
    """The digest's subject: the idle instances and their waste, then the anomalies and
    their dollar rate, then the other wasted resources (only the parts it has).

    >>> subject_of([], [])
    'SpendSense: nothing new'
    """
    parts = []
    if items:
        total = sum(i.monthly_waste_usd for i in items)
        plural = "s" if len(items) != 1 else ""
        parts.append(f"{len(items)} idle EC2 instance{plural}, about ${total:,.0f}/month")
    if anomalies:
        rate = sum(a.dollars_per_hour for a in anomalies)
        plural = "ies" if len(anomalies) != 1 else "y"
        priced = f", ${rate:,.2f}/hour" if rate else ""
        parts.append(f"{len(anomalies)} usage anomal{plural}{priced}")
    if waste:
        count = sum(g.count for g in waste)
        total = sum(g.monthly_waste_usd for g in waste)
        plural = "s" if count != 1 else ""
        parts.append(f"{count} wasted resource{plural}, about ${total:,.0f}/month")
    return "SpendSense: " + ("; ".join(parts) or "nothing new")


def render_digest(
    tenant_name: str,
    items: Sequence[DigestItem],
    *,
    expires_at: str,
    cooldown: str,
    anomalies: Sequence[AnomalyItem] = (),
    waste: Sequence[WasteGroup] = (),
    schedule_failures: Sequence[str] = (),
) -> Digest:
    """Render the digest email from the package's templates: the idle instances, then the
    usage anomalies, then the wasted resources by kind (each section only when it has
    something).

    >>> item = DigestItem("i-0abc1234", "build-box", "eu-west-1", "m5.large",
    ...                   "2026-11-25 08:00 UTC", "CPU under 1% for 2 days", 69.12,
    ...                   "https://x/links/s", "https://x/links/n", "https://x/instances/i-0abc1234")
    >>> d = render_digest("Acme", [item], expires_at="2026-11-28 08:00 UTC", cooldown="1 hour")
    >>> d.subject
    'SpendSense: 1 idle EC2 instance, about $69/month'
    >>> "https://x/links/s" in d.text and "https://x/links/n" in d.html
    True
    >>> "https://x/instances/i-0abc1234" in d.text and "https://x/instances/i-0abc1234" in d.html
    True
    """
    subject = subject_of(items, anomalies, waste)
    ctx: dict[str, Any] = {
        "subject": subject,
        "tenant_name": tenant_name,
        "items": items,
        "anomalies": anomalies,
        "waste": waste,
        "schedule_failures": schedule_failures,
        "total_waste": sum(i.monthly_waste_usd for i in items),
        "expires_at": expires_at,
        "cooldown": cooldown,
    }
    return Digest(
        subject=subject,
        text=_templates.get_template("digest.txt.j2").render(ctx),
        html=_templates.get_template("digest.html.j2").render(ctx),
    )


def when(at: datetime | None) -> str:
    """A moment as the digest writes it.

    >>> when(datetime(2026, 11, 25, 8, 0, tzinfo=UTC)), when(None)
    ('2026-11-25 08:00 UTC', 'unknown')
    """
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "unknown"


def duration(seconds: int) -> str:
    """A cooldown as the digest writes it.

    >>> duration(3600), duration(7200), duration(90)
    ('1 hour', '2 hours', '1 minute')
    """
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def digest_items(
    settings: ActionsSettings,
    key: bytes,
    tenant: Tenant,
    states: Sequence[InstanceAlertState],
    now: datetime,
) -> list[DigestItem]:
    """Each pending instance with its signed Stop and "Not idle" links, signed at ``now``."""
    items = []
    for st in states:
        links = {
            action: link_url(
                settings.public_base_url,
                sign(
                    key,
                    st.tenant_id,
                    st.instance_id,
                    action,
                    ttl_s=settings.link_ttl_s,
                    account_id=st.account_id,
                    region=st.region,
                    now=now,
                ),
            )
            for action in ("stop", "not-idle")
        }
        grace = ""
        if st.stop_after is not None and tenant.autostop_enabled:
            grace = f"will be stopped after {when(st.stop_after)} if still idle"
            if tenant.autostop_dry_run:
                grace += " (dry run: SpendSense will only log it)"
        items.append(
            DigestItem(
                instance_id=st.instance_id,
                name=st.name,
                region=st.region or "",
                instance_type=st.instance_type,
                idle_since=when(st.idle_since),
                reason=st.reason,
                monthly_waste_usd=st.monthly_waste_usd,
                stop_url=links["stop"],
                not_idle_url=links["not-idle"],
                detail_url=detail_url(settings.public_base_url, st.instance_id),
                grace=grace,
            )
        )
    return items


def tenant_digest(
    settings: ActionsSettings,
    key: bytes,
    tenant: Tenant,
    states: Sequence[InstanceAlertState],
    anomalies: Sequence[AnomalyAlertState],
    now: datetime,
    waste: Sequence[WasteAlertState] = (),
) -> Digest:
    """The digest of ``states``, ``anomalies`` and ``waste`` for ``tenant``, its links valid
    ``link_ttl_s`` from ``now``."""
    return render_digest(
        tenant.name,
        digest_items(settings, key, tenant, states, now),
        expires_at=when(now + timedelta(seconds=settings.link_ttl_s)),
        cooldown=duration(settings.cooldown_s),
        anomalies=anomaly_items(settings, key, anomalies, now, when),
        waste=waste_groups(settings.public_base_url, waste, when),
        schedule_failures=failed_schedules(tenant),
    )


def failed_schedules(tenant: Tenant) -> list[str]:
    """The tenant's scheduled actions that failed, one line each, read in the session the
    tenant was loaded in (the digest's own transaction)."""
    session = object_session(tenant)
    if session is None:
        return []
    return [
        f"{s.instance_id}: schedule {s.schedule_name} could not {s.action} it at "
        f"{when(s.acted_at)}: {s.message}"
        for s in schedule_failures(session, tenant.id)
    ]
