"""Run the app under gunicorn from ``palisade serve``: several stateless worker processes."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from sharing import wal_checkpoints
        from sharing.web.app import create_app, runtime_of
        from sharing.web.gc_tuning import freeze_startup_heap

        app = create_app()
        wal_checkpoints.start(runtime_of(app).db)
        freeze_startup_heap()
        return app


def run_gunicorn(host: str, port: int, workers: int, **extra: Any) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 120,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
    }
    options.update(extra)
    _Gunicorn(options).run()
