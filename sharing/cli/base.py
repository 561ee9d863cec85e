"""The root click group, the per-invocation Runtime and the error-to-exit-code mapping."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from sharing.config import ConfigError, Settings
from sharing.crypto.keyring import KeyRingError
from sharing.errors import Conflict, NotFound, PalisadeError
from sharing.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_CONFIG = 5
EXIT_UNAVAILABLE = 6


class CliState:
    """Lazily built so that member commands never need the server's database or keys."""

    def __init__(self, instance: str | None) -> None:
        self.instance = instance
        self._runtime: Runtime | None = None

    def settings(self) -> Settings:
        overrides = {"instance_path": self.instance} if self.instance else None
        return Settings.from_env(overrides=overrides)

    def runtime(self, *, create_keys: bool | None = None) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.build(self.settings(), create_keys=create_keys)
        return self._runtime

    def close(self) -> None:
        """Release the database connections when the command ends (matters in-process)."""
        if self._runtime is not None:
            self._runtime.db.dispose()
            self._runtime = None


def say(message: str) -> None:
    click.echo(message, err=True)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def fail(message: str, code: int = EXIT_FAILURE) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Map domain and infrastructure errors to one line on stderr and a documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NotFound as exc:
            fail(exc.message, EXIT_NOT_FOUND)
        except Conflict as exc:
            fail(exc.message, EXIT_CONFLICT)
        except PalisadeError as exc:
            fail(exc.message, EXIT_USAGE)
        except (ConfigError, KeyRingError) as exc:
            fail(str(exc), EXIT_CONFIG)
        except OperationalError as exc:
            reason = " ".join(str(exc.orig).split())  # libpq's messages span several lines
            fail(_schema_behind(args) or f"database unavailable: {reason}", EXIT_UNAVAILABLE)
        except SQLAlchemyError as exc:
            behind = _schema_behind(args)
            if behind:
                fail(behind, EXIT_UNAVAILABLE)
            fail(f"database error: {exc.__class__.__name__}", EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]


def _schema_behind(args: tuple[Any, ...]) -> str | None:
    """After a database error: say so plainly if the cause is a schema that was never migrated
    (SQLite reports a missing table as OperationalError, PostgreSQL as ProgrammingError)."""
    from sharing import migrate

    state = next((a for a in args if isinstance(a, CliState)), None)
    if state is None or state._runtime is None:
        return None
    try:
        current = migrate.current_revision(state._runtime.db.engine)
        head = migrate.head_revision()
    except Exception:  # unreachable database: report the original error
        return None
    if current == head:
        return None
    return (
        f"the database schema is at {current or 'no revision (empty database)'} but this "
        f"version needs {head}: run `palisade db upgrade`"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--instance",
    envvar="PALISADE_INSTANCE",
    default=None,
    help="Instance folder (database, key file). Default: ./instance",
)
@click.version_option(package_name="palisade-exchange")
@click.pass_context
def cli(ctx: click.Context, instance: str | None) -> None:
    """Palisade: share hashed indicators of model-distillation campaigns."""
    ctx.obj = CliState(instance)
    ctx.call_on_close(ctx.obj.close)


pass_state = click.make_pass_decorator(CliState)
