"""One ``APIRouter`` per module; :data:`ROUTERS` is the order ``create_app`` includes them."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    accounts,
    audit,
    auth,
    costs,
    feed,
    health,
    instances,
    links,
    mail_links,
    monitoring,
    pages,
    settings,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    costs.router,
    instances.router,
    audit.router,
    settings.router,
    accounts.router,
    accounts.public,
    feed.router,
    monitoring.router,
    links.router,
    mail_links.router,
    pages.router,
)
