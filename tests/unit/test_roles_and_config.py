"""Roles, navigation and configuration: pure rules with no app."""

import pytest

from portal import config
from portal.tenancy.roles import GRANTS, Permission, Role, can, requires_partner
from portal.web.navigation import NAVIGATION, NavMenu, bar_for


def test_only_admins_manage_users_and_keys():
    for permission in (Permission.MANAGE_USERS, Permission.MANAGE_API_KEYS):
        assert [r for r in Role if can(r, permission)] == [Role.ADMIN]


def test_partner_users_work_the_inbox_and_see_nothing_of_the_vendor_side():
    granted = {p for p in Permission if can(Role.PARTNER_USER, p)}
    assert granted == {Permission.WORK_INBOX}


def test_every_permission_is_granted_to_someone():
    assert set(GRANTS) == set(Permission) and all(GRANTS.values())


def test_only_partner_users_belong_to_a_partner():
    assert [r for r in Role if requires_partner(r)] == [Role.PARTNER_USER]


def test_every_role_has_something_in_the_navigation():
    for role in Role:
        assert any(can(role, item.permission) for item in NAVIGATION)


class _Signed:
    def __init__(self, role):
        self.role = role

    def can(self, permission):
        return can(self.role, permission)


def test_the_administration_folds_into_one_menu_at_the_end_of_the_admin_s_bar():
    bar = bar_for(_Signed(Role.ADMIN))
    *links, menu = bar
    assert not any(isinstance(entry, NavMenu) for entry in links)
    assert isinstance(menu, NavMenu) and menu.label == "Admin"
    assert [i.label for i in menu.items] == ["Users", "API keys", "Webhooks", "Audit log", "Export"]
    assert menu.endpoints == {i.endpoint for i in menu.items}


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.VENDOR_STAFF, Role.PARTNER_USER])
def test_other_roles_have_no_menu_for_entries_they_may_not_open(role):
    bar = bar_for(_Signed(role))
    menus = [entry for entry in bar if isinstance(entry, NavMenu)]
    assert all(all(can(role, i.permission) for i in m.items) and m.items for m in menus)
    assert [e.label for e in bar if not isinstance(e, NavMenu)] == [
        i.label for i in NAVIGATION if can(role, i.permission) and i.menu is None
    ]


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load(str(tmp_path))


def test_development_defaults_to_sqlite_in_the_instance_folder_and_in_process_jobs(
    monkeypatch, tmp_path
):
    for name in ("PORTAL_ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/portal.db"
    assert settings["REDIS_URL"] is None and settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["SESSION_COOKIE_SECURE"] is False


def test_a_plain_postgres_url_is_steered_to_psycopg_3():
    assert config.normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_an_unknown_environment_or_a_non_number_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_ENV", "staging")
    with pytest.raises(config.ConfigError, match="PORTAL_ENV"):
        config.load(str(tmp_path))
    monkeypatch.setenv("PORTAL_ENV", "development")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(config.ConfigError, match="whole number"):
        config.load(str(tmp_path))


def test_redis_url_moves_rate_limits_to_redis(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert config.load(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_pages_and_logins_are_kept_only_with_a_redis_every_process_shares(monkeypatch, tmp_path):
    for name in ("PORTAL_ENV", "REDIS_URL", "KEPT_PAGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    # Without one, each process would keep its own and miss the others' writes.
    assert config.load(str(tmp_path))["KEPT_PAGE_SECONDS"] == 0
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert config.load(str(tmp_path))["KEPT_PAGE_SECONDS"] == 30
    monkeypatch.setenv("KEPT_PAGE_SECONDS", "0")
    assert config.load(str(tmp_path))["KEPT_PAGE_SECONDS"] == 0
    monkeypatch.delenv("REDIS_URL")
    monkeypatch.setenv("KEPT_PAGE_SECONDS", "20")  # asked for: one process, say
    assert config.load(str(tmp_path))["KEPT_PAGE_SECONDS"] == 20
    assert config.load(str(tmp_path), {"KEPT_PAGE_SECONDS": 5})["KEPT_PAGE_SECONDS"] == 5


def test_the_readme_lists_every_configuration_variable():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [v.name for v in config.VARIABLES if f"| `{v.name}` |" not in readme]
    assert missing == []
