"""One ``APIRouter`` per module; :data:`ROUTERS` is the order ``create_app`` includes them."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    accounts,
    audit,
    auth,
    channels,
    costs,
    feed,
    health,
    instances,
    links,
    mail_links,
    members,
    monitoring,
    pages,
    savings,
    schedules,
    settings,
    waste,
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
    members.router,
    savings.router,
    waste.router,
    channels.router,
    schedules.router,
    pages.router,
)
