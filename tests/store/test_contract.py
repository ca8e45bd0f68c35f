"""The store's contract, on SQLite and PostgreSQL: tenants, users, accounts, audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from spendsense.errors import NotFound
from spendsense.store import (
    DecisionKeyConflict,
    add_aws_account,
    append_audit,
    create_tenant,
    create_user,
    find_user_by_email,
    get_aws_account,
    get_tenant,
    get_user,
    list_audit,
    list_aws_accounts,
    list_tenants,
    list_users,
    remove_aws_account,
    set_account_status,
    update_aws_account,
)
from spendsense.store.models import AuditEntry, AwsAccount, User

Sessions = sessionmaker[Session]


def _two_tenants(sessions: Sessions) -> None:
    with sessions.begin() as s:
        create_tenant(s, "Acme", tenant_id="acme", alert_email="ops@acme.example")
        create_tenant(s, "Globex", tenant_id="globex")


def test_tenants_are_created_and_listed(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        generated = create_tenant(s, "Initech")
    with sessions() as s:
        assert {t.id for t in list_tenants(s)} == {"acme", "globex", generated.id}
        acme = get_tenant(s, "acme")
        assert acme is not None and acme.alert_email == "ops@acme.example"
        assert acme.autostop_enabled is False and acme.autostop_dry_run is True
        assert acme.created_at.tzinfo is not None
        assert get_tenant(s, "nobody") is None
    assert len(generated.id) == 32


def test_users_belong_to_one_tenant_and_emails_are_unique(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        user = create_user(s, "acme", " Alice@Acme.example ", "argon2-hash")
    with sessions() as s:
        found = find_user_by_email(s, "ALICE@acme.example")
        assert found is not None and found.id == user.id and found.tenant_id == "acme"
        assert get_user(s, "acme", user.id) is not None
        assert get_user(s, "globex", user.id) is None
        assert [u.email for u in list_users(s, "acme")] == ["alice@acme.example"]
        assert list_users(s, "globex") == []
    with pytest.raises(IntegrityError), sessions.begin() as s:
        create_user(s, "globex", "alice@acme.example", "other-hash")


def test_foreign_keys_are_enforced(sessions: Sessions) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as s:
        create_user(s, "no-such-tenant", "bob@example.com", "hash")


def test_aws_accounts_are_scoped_by_tenant(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        add_aws_account(
            s, "acme", "111111111111", external_id="ext-a", regions=["eu-west-1", "us-east-1"]
        )
        add_aws_account(s, "globex", "222222222222", external_id="ext-g")
    with sessions() as s:
        acme = list_aws_accounts(s, "acme")
        assert [(a.account_id, a.regions, a.status) for a in acme] == [
            ("111111111111", ["eu-west-1", "us-east-1"], "pending")
        ]
        assert get_aws_account(s, "globex", "111111111111") is None
        assert get_aws_account(s, "acme", "111111111111") is not None
    with pytest.raises(NotFound), sessions.begin() as s:
        set_account_status(s, "globex", "111111111111", "ok")
    with pytest.raises(NotFound), sessions.begin() as s:
        remove_aws_account(s, "globex", "111111111111")
    with sessions() as s:
        still = get_aws_account(s, "acme", "111111111111")
        assert still is not None and still.status == "pending"


def test_external_ids_and_account_per_tenant_are_unique(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-a")
    with pytest.raises(IntegrityError), sessions.begin() as s:
        add_aws_account(s, "globex", "333333333333", external_id="ext-a")
    with pytest.raises(IntegrityError), sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-b")
    with sessions.begin() as s:  # the same AWS account may be watched by another tenant
        add_aws_account(s, "globex", "111111111111", external_id="ext-g")


def test_account_status_updates_round_trip(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-a")
    at = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    with sessions.begin() as s:
        set_account_status(
            s, "acme", "111111111111", "error", code="AccessDenied", message="bad ExternalId", at=at
        )
    with sessions() as s:
        account = get_aws_account(s, "acme", "111111111111")
        assert account is not None
        assert (account.status, account.status_code, account.status_message) == (
            "error",
            "AccessDenied",
            "bad ExternalId",
        )
        assert account.status_at == at and account.status_at.tzinfo == UTC
    with sessions.begin() as s:
        set_account_status(s, "acme", "111111111111", "ok")
        update_aws_account(
            s,
            "acme",
            "111111111111",
            role_arn="arn:aws:iam::111111111111:role/SpendSense",
            regions=["ap-south-1"],
        )
    with sessions() as s:
        account = get_aws_account(s, "acme", "111111111111")
        assert account is not None
        assert (account.status, account.status_code, account.regions) == (
            "ok",
            None,
            ["ap-south-1"],
        )
        assert account.role_arn == "arn:aws:iam::111111111111:role/SpendSense"
    with pytest.raises(ValueError, match="account status"), sessions.begin() as s:
        set_account_status(s, "acme", "111111111111", "fine")


def test_naive_datetimes_are_refused(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-a")
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as s:
        set_account_status(s, "acme", "111111111111", "ok", at=datetime(2026, 1, 1))


def test_removing_an_account_and_a_tenant(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-a")
        create_user(s, "acme", "alice@acme.example", "hash")
        append_audit(s, "acme", actor="alice", action="connect", result="ok")
    with sessions.begin() as s:
        remove_aws_account(s, "acme", "111111111111")
    with sessions() as s:
        assert list_aws_accounts(s, "acme") == []
    with sessions.begin() as s:
        add_aws_account(s, "acme", "111111111111", external_id="ext-a")
    with sessions.begin() as s:  # the database cascades a tenant's rows
        s.execute(AwsAccount.__table__.delete().where(AwsAccount.tenant_id == "nobody"))
        s.delete(s.get_one(type(get_tenant(s, "acme")), "acme"))
    with sessions() as s:
        assert s.scalars(select(User)).all() == []
        assert s.scalars(select(AwsAccount).where(AwsAccount.tenant_id == "acme")).all() == []
        assert s.scalars(select(AuditEntry)).all() == []


def test_audit_append_is_idempotent_on_decision_key(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        first, created = append_audit(
            s,
            "acme",
            actor="policy",
            action="stop",
            result="stopped",
            instance_id="i-0abc",
            account_id="111111111111",
            decision_key="acme/i-0abc/1",
            details={"idle_score": 0.97},
            reason="idle 3 days",
        )
    assert created
    with sessions.begin() as s:  # a replay after a crash, in a new transaction
        again, created = append_audit(
            s,
            "acme",
            actor="policy",
            action="stop",
            result="stopped",
            instance_id="i-0abc",
            decision_key="acme/i-0abc/1",
        )
    assert not created and again.id == first.id
    with sessions() as s:
        entries = list_audit(s, "acme")
        assert [(e.id, e.details, e.reason) for e in entries] == [
            (first.id, {"idle_score": 0.97}, "idle 3 days")
        ]
    with pytest.raises(DecisionKeyConflict), sessions.begin() as s:
        append_audit(
            s,
            "globex",
            actor="policy",
            action="stop",
            result="stopped",
            decision_key="acme/i-0abc/1",
        )


def test_audit_without_key_always_appends_and_lists_newest_first(sessions: Sessions) -> None:
    _two_tenants(sessions)
    with sessions.begin() as s:
        ids = [
            append_audit(
                s, "acme", actor="alice", action="stop", result="ok", instance_id=f"i-{n}"
            )[0].id
            for n in range(5)
        ]
        append_audit(s, "acme", actor="alice", action="stop", result="ok", instance_id="i-1")
        append_audit(s, "globex", actor="bob", action="alert", result="sent")
    with sessions() as s:
        acme = list_audit(s, "acme")
        assert len(acme) == 6 and [e.id for e in acme] == sorted((e.id for e in acme), reverse=True)
        assert {e.actor for e in acme} == {"alice"}
        page = list_audit(s, "acme", limit=2, before_id=ids[3])
        assert [e.id for e in page] == [ids[2], ids[1]]
        assert [e.instance_id for e in list_audit(s, "acme", instance_id="i-1")] == ["i-1", "i-1"]
        assert [e.actor for e in list_audit(s, "globex")] == ["bob"]
        assert list_audit(s, "initech") == []


@pytest.mark.postgres
def test_concurrent_replays_of_one_decision_write_one_entry(postgres_url: str) -> None:
    """Two workers append the same decision at once: the second waits, then gets the first."""
    import threading

    from spendsense.settings import StoreSettings
    from spendsense.store import open_store

    store = open_store(StoreSettings(url=postgres_url))
    _two_tenants(store.sessions)
    results: list[tuple[int, bool]] = []
    first = store.sessions()
    entry, _ = append_audit(
        first, "acme", actor="policy", action="stop", result="stopped", decision_key="k-1"
    )  # flushed, not committed: holds the key

    def replay() -> None:
        with store.sessions.begin() as s:
            again, created = append_audit(
                s, "acme", actor="policy", action="stop", result="stopped", decision_key="k-1"
            )
            results.append((again.id, created))

    thread = threading.Thread(target=replay)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "the replay should wait for the first writer's transaction"
    first.commit()
    thread.join(timeout=30)
    first.close()
    assert results == [(entry.id, False)]
    with store.sessions() as s:
        assert len(list_audit(s, "acme")) == 1
    store.dispose()
