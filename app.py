"""WSGI entry point: ``gunicorn app:app``. Configuration comes from the environment."""

from sharing import create_app
from sharing.web.gc_tuning import freeze_startup_heap

app = create_app()
freeze_startup_heap()  # after the app is built: see sharing/web/gc_tuning.py
