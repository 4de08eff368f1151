"""Behind a reverse proxy the client's address comes from X-Forwarded-For, and only then."""

from __future__ import annotations

from werkzeug.test import EnvironBuilder

from portal import create_app

FORWARDED = {"X-Forwarded-For": "203.0.113.9"}


def _address_seen(hops: int) -> str:
    """The REMOTE_ADDR the app works with for a request the proxy at 10.0.0.2 passed on."""
    app = create_app(
        {"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None,
         "PROXY_HOPS": hops}
    )  # fmt: skip
    environ = EnvironBuilder(
        path="/static/css/portal.css", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    ).get_environ()
    app.wsgi_app(environ, lambda status, headers, exc_info=None: None)
    return environ["REMOTE_ADDR"]


def test_one_proxy_hop_gives_the_client_s_address():
    assert _address_seen(1) == "203.0.113.9"


def test_without_proxy_hops_a_forwarded_header_is_not_believed():
    assert _address_seen(0) == "10.0.0.2"
