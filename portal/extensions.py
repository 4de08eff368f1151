"""Unbound extension instances; create_app binds them to the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from portal.db import Base
from portal.jobs import JobQueue

# create_savepoint lets the test suite wrap each test in an outer transaction it rolls back;
# with an ordinary engine bind it changes nothing. Objects stay loaded after a commit, so a
# later read does not re-query outside the tenant scope the object was loaded in.
db = SQLAlchemy(
    model_class=Base,
    session_options={"join_transaction_mode": "create_savepoint", "expire_on_commit": False},
)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
queue = JobQueue()
