"""WSGI entry point: ``gunicorn app:app``. Configuration comes from the environment."""

from sharing import create_app, wal_checkpoints
from sharing.web.app import runtime_of
from sharing.web.gc_tuning import freeze_startup_heap

app = create_app()
wal_checkpoints.start(runtime_of(app).db)  # SQLite: see sharing/wal_checkpoints.py
freeze_startup_heap()  # after the app is built: see sharing/web/gc_tuning.py
