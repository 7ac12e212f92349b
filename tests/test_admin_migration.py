"""Migration 0014 (issue 19): the password resets' table comes and goes; the accounts stay;
upgraded again, a link is made and used as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, select

from app import migrate
from app.audit.trail import OPERATOR
from app.directory import admin
from app.directory.models import PasswordReset, User
from app.web import passwords, signin
from tests.conftest import World

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CHOSEN = "une phrase de passe assez longue"


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_resets_table_comes_and_goes_and_the_accounts_stay(world: World) -> None:
    url = world.settings.database_url
    user_id = world.users["police"]
    with world.db() as session:
        admin.start_password_reset(session, actor=OPERATOR, user_id=user_id, now=NOW)
    assert "password_reset" in _tables(url)

    migrate.downgrade(url, "0013")
    assert "password_reset" not in _tables(url)
    with world.db() as session:
        names = set(session.scalars(select(User.username)))
    assert names == set(world.users)

    migrate.upgrade(url)
    assert "password_reset" in _tables(url)
    with world.db() as session:
        assert session.scalars(select(PasswordReset)).all() == []
        started = admin.start_password_reset(session, actor=OPERATOR, user_id=user_id, now=NOW)
    with world.db() as session:
        signin.reset_password(
            session,
            token=started.token,
            password=CHOSEN,
            now=NOW + timedelta(minutes=1),
        )
    with world.db() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert passwords.verify_password(user.password_hash, CHOSEN)
