"""gunicorn's master compiles every template before it forks (portal.warm_up, called from
gunicorn.conf.py), so no process compiles one while its first users wait."""

import runpy
import sys
from types import SimpleNamespace

import pytest

from portal import ROOT
from portal.extensions import db
from tests.conftest import make_app


@pytest.fixture
def cold_app(database_url):
    """An app no request has used yet, as gunicorn's master loads it."""
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


def _compiling_refused(*args, **kwargs):
    raise AssertionError("a template was compiled after the warm-up")


def test_the_master_compiles_every_template_before_the_processes_fork(cold_app, monkeypatch):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setitem(sys.modules, "wsgi", SimpleNamespace(app=cold_app))
    config["when_ready"](SimpleNamespace())
    monkeypatch.setattr(cold_app.jinja_env.loader, "get_source", _compiling_refused)
    names = cold_app.jinja_env.list_templates()
    assert "leads/inbox.html" in names and "base.html" in names
    for name in names:
        cold_app.jinja_env.get_template(name)
    # A whole page, its layout and macros included, from what was compiled.
    response = cold_app.test_client().get("/login")
    assert response.status_code == 200 and b"<form" in response.data


def test_without_the_warm_up_a_page_compiles_its_templates(cold_app, monkeypatch):
    """The check above would pass for nothing if pages never compiled templates."""
    monkeypatch.setattr(cold_app.jinja_env.loader, "get_source", _compiling_refused)
    with pytest.raises(AssertionError, match="compiled after the warm-up"):
        cold_app.test_client().get("/login")
