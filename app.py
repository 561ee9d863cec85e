"""WSGI entry point: ``gunicorn app:app``. Configuration comes from the environment."""

from sharing import create_app

app = create_app()
