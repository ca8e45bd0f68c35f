"""Pages behind the signed links in alert e-mails: a GET confirms, only a POST acts.

The POST carries a CSRF token (a hidden form field; double-submit with the csrf
cookie, or the session's token when logged in). A replayed, expired, altered or
other-organisation link gets a page that says so, and nothing happens.

A link is a bearer token in an e-mail (forwarded, archived, opened by a mail scanner), so a
Stop link acts only for a logged-in member of its organisation who is an operator or admin:
without a session the page asks to log in (and comes back here after), a viewer is told
the role it needs; "Not idle" stays one click for anyone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from actions.anomaly_items import METRIC_LABELS
from actions.feedback import anomaly_expected, not_idle
from actions.links import LinkClaims, LinkError, consume, signing_key, verify
from api.deps import DbSession, MaybeLogin, StateDep
from api.pages import failed_link_page, link_page, render
from spendsense.events import AnomalyMetric
from spendsense.store import get_tenant

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=10, max_length=2000)]

STATUS = {"used": 410, "expired": 410, "wrong-tenant": 403}
# What a link does only for a logged-in member of its tenant: a stop, and an "Expected", which
# silences the detector on that level for good (a forwarded mail must not do either).
NEEDS_LOGIN = {
    "stop": ("Log in to stop {i}", "Stopping an instance"),
    "anomaly-expected": ("Log in to mark {i}'s change expected", "Calling a change expected"),
}
# ... and of a member at least this role (api.deps.ROLES)
NEEDS_ROLE = "operator"
WHAT = {
    "stop": ("Stop instance {i}?", "Stop it"),
    "not-idle": ("Mark {i} as not idle?", "It is not idle"),
    "anomaly-expected": ("Was the change of {i}'s {m} expected?", "It is expected"),
}


def expected_metric(claims: LinkClaims) -> AnomalyMetric:
    """The metric an "Expected" link names (signed, so one of the three)."""
    metric = claims.metric
    if metric not in METRIC_LABELS:
        raise LinkError("malformed", "this link's content cannot be read")
    return metric  # type: ignore[return-value]


def _failed(request: Request, err: LinkError) -> Response:
    return failed_link_page(request, STATUS.get(err.reason, 400), err.message)


def _log_in_first(
    request: Request, claims: LinkClaims, login: MaybeLogin, token: str, status_code: int
) -> Response | None:
    """The page asking to log in (and coming back) when this link needs a session the
    caller does not have, or saying an operator is needed when the caller is a viewer;
    ``None`` otherwise."""
    if claims.action not in NEEDS_LOGIN:
        return None
    heading, doing = NEEDS_LOGIN[claims.action]
    if login is not None:
        if login.may(NEEDS_ROLE):
            return None
        return render(
            request,
            "link.html",
            status_code=403,
            heading=f"{doing} needs the {NEEDS_ROLE} role",
            message=f"Yours is {login.role}: ask an admin of your organisation.",
            failed=True,
        )
    return render(
        request,
        "link.html",
        status_code=status_code,
        heading=heading.format(i=claims.instance_id),
        message=f"{doing} needs a logged-in member of its organisation: "
        "log in, and this link opens again.",
        login_url=f"/login?next=/links/{token}",
    )


def _key(state: StateDep) -> bytes:
    return signing_key(state.settings.actions, state.settings.var_dir)


def _claims(state: StateDep, db: DbSession, login: MaybeLogin, token: str) -> LinkClaims:
    return verify(_key(state), token, tenant_id=login.tenant_id if login else None, session=db)


@router.get("/links/{token}", response_class=HTMLResponse)
def confirm_page(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """What the link would do, and a button that does it (nothing happens on GET)."""
    try:
        claims = _claims(state, db, login, token)
    except LinkError as err:
        return _failed(request, err)
    if (log_in := _log_in_first(request, claims, login, token, 200)) is not None:
        return log_in
    heading, confirm = WHAT[claims.action]
    return link_page(
        request,
        state,
        login,
        heading=heading.format(i=claims.instance_id, m=METRIC_LABELS.get(claims.metric or "", "")),
        message=f"Instance {claims.instance_id} in AWS account {claims.account_id or '?'} "
        f"({claims.region or '?'}). This link works once, until "
        f"{claims.expires_at:%Y-%m-%d %H:%M} UTC.",
        confirm=confirm,
        action=claims.action,
        token=token,
    )


@router.post("/links/{token}", response_class=HTMLResponse)
def act(
    token: Token, request: Request, state: StateDep, db: DbSession, login: MaybeLogin
) -> Response:
    """Consume the link and do what it allows (stop, mark not idle, or call an anomaly
    expected)."""
    try:
        claims = _claims(state, db, login, token)
        if (log_in := _log_in_first(request, claims, login, token, 401)) is not None:
            return log_in
        tenant = get_tenant(db, claims.tenant_id)
        actor = login.email if login else f"e-mail link ({tenant.alert_email if tenant else '?'})"
        metric = expected_metric(claims) if claims.action == "anomaly-expected" else None
        consume(db, claims, actor)
        db.commit()
    except LinkError as err:
        db.rollback()
        return _failed(request, err)
    if claims.action == "stop":
        outcome = state.actions.execute(
            db,
            claims.tenant_id,
            actor,
            claims.instance_id,
            "stop",
            reason="stop confirmed from the alert e-mail",
            decision_key=claims.decision_key,
            account_id=claims.account_id,
            region=claims.region,
        )
        heading, message, failed = (
            f"Stop {claims.instance_id}: {outcome.result}",
            outcome.message,
            outcome.result in {"failed", "refused"},
        )
    elif metric is not None:
        anomaly_expected(
            state.sessions,
            state.actions.sink,
            claims.tenant_id,
            claims.instance_id,
            claims.incident_id or "",
            metric,
            actor,
            decision_key=claims.decision_key,
        )
        heading, message, failed = (
            f"{claims.instance_id}: change marked expected",
            "Thanks: SpendSense learns this level as normal for the instance and does not "
            "alert on it again.",
            False,
        )
    else:
        not_idle(
            state.sessions,
            state.actions.sink,
            claims.tenant_id,
            claims.instance_id,
            actor,
            reason="marked from the alert e-mail",
            decision_key=claims.decision_key,
        )
        heading, message, failed = (
            f"{claims.instance_id} marked not idle",
            "Thanks: alerts stay quiet for this idle episode and the detector learns from it.",
            False,
        )
    state.projections.bump()
    return render(request, "link.html", heading=heading, message=message, failed=failed)
