"""The ``cenomed`` command. Results go to stdout (an id, a token, JSON) and nothing else;
diagnostics go to stderr; a failure exits non-zero with a one-line reason."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import asdict
from datetime import date, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from click import ClickException
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import clock, migrate
from app.audit import checkpoint, trail
from app.audit.trail import Action
from app.auth import ensure_local_keys, issue_local_token
from app.config import Settings, get_settings
from app.crypto.keyring import LocalKeyringProvider, configured_provider
from app.crypto.rotation import rotate
from app.db import make_engine, make_sessionmaker, unit_of_work
from app.directory import repository as directory
from app.directory import service as directory_service
from app.errors import AppError, NotFound
from app.inputs import (
    CHECKPOINT_MAX_BYTES,
    PASSWORD_LINE_MAX_BYTES,
    PUBLIC_KEY_MAX_BYTES,
    InputRefused,
    read_bounded,
    read_bounded_line,
    read_bounded_text,
)
from app.main import make_vault
from app.operations.exposition import MULTIPROCESS_DIR_ENV
from app.operations.logs import log_config
from app.vocabulary import CellKind, Organisation, Role

if TYPE_CHECKING:
    from app.retention.service import PurgeReport

cli = typer.Typer(
    help="cenomed: the CENOMED cells' exchange of nominative information.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cell_cli = typer.Typer(help="Cells (CENOMED cells and recidivism groups).", no_args_is_help=True)
user_cli = typer.Typer(help="User accounts.", no_args_is_help=True)
keys_cli = typer.Typer(help="Encryption keys.", no_args_is_help=True)
notify_cli = typer.Typer(help="E-mail notifications.", no_args_is_help=True)
policy_cli = typer.Typer(help="The charter's policies.", no_args_is_help=True)
audit_cli = typer.Typer(help="The audit log.", no_args_is_help=True)
cli.add_typer(cell_cli, name="cell")
cli.add_typer(user_cli, name="user")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(notify_cli, name="notify")
cli.add_typer(policy_cli, name="policy")
cli.add_typer(audit_cli, name="audit")
witness_cli = typer.Typer(
    help="A witness of the audit log (C2SP tlog-witness), run by a partner.", no_args_is_help=True
)
cli.add_typer(witness_cli, name="witness")

P = ParamSpec("P")
R = TypeVar("R")


# Exit codes: 0 done; 1 refused or failed (for 'audit verify': the log is not intact); 2 what
# was given is wrong (a usage error, or a file given that is not what its option takes).
FAILED, BAD_INPUT = 1, 2


def _fail(message: str, code: int = FAILED) -> typer.Exit:
    first_line = (message.strip().splitlines() or ["failed"])[0]
    typer.echo(f"cenomed: {first_line}", err=True)
    return typer.Exit(code=code)


def _setting_problem(error: ValidationError) -> str:
    """Which setting is wrong and why, without the value given (it may be a secret)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "a setting"
    name = f"CENOMED_{field.upper()}" if first.get("loc") else field
    return f"invalid setting {name}: {first.get('msg', 'refused')}"


def _os_problem(error: OSError) -> str:
    if error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Every failure becomes one line on stderr and a non-zero exit, never a traceback
    (CENOMED_LOG_LEVEL=DEBUG shows an unexpected one's traceback)."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except AppError as error:
            raise _fail(error.detail) from None
        except IntegrityError:
            raise _fail("it already exists (a concurrent change?); check and try again") from None
        except (OperationalError, ProgrammingError) as error:
            if _undecodable(error):
                raise _fail(
                    "the database holds text that is not UTF-8, written outside the service; "
                    "it is reachable, but this value cannot be read"
                ) from None
            raise _fail(
                "the database is unreachable or not initialised; run 'cenomed init'"
            ) from None
        except SQLAlchemyError as error:
            raise _fail(
                f"the database refused the change ({type(error).__name__}); retry"
            ) from None
        except ValidationError as error:
            raise _fail(_setting_problem(error)) from None
        except sqlite3.Error as error:
            raise _fail(f"the SQLite database refused: {error}") from None
        except UnicodeError:
            raise _fail("a file or an input is not UTF-8 text") from None
        except OSError as error:
            raise _fail(_os_problem(error)) from None
        except (RuntimeError, ValueError) as error:
            raise _fail(str(error)) from None
        except Exception as error:
            if os.environ.get("CENOMED_LOG_LEVEL", "").upper() == "DEBUG":
                raise
            raise _fail(
                f"unexpected failure ({type(error).__name__}); CENOMED_LOG_LEVEL=DEBUG shows where"
            ) from None

    return wrapper


def _undecodable(error: OperationalError | ProgrammingError) -> bool:
    """SQLite's driver raises OperationalError, as for a database it cannot open, when stored
    text is not UTF-8: a value written outside the service, not a database that failed (the
    audit log's readers read such rows as they are: ``app.audit.stored``)."""
    return isinstance(error.orig, sqlite3.OperationalError) and str(error.orig).startswith(
        "Could not decode to UTF-8"
    )


def _sessions(settings: Settings, engine: Engine) -> sessionmaker[Session]:
    """Sessions that sign the log's checkpoints as they append, as the service's do."""
    info = None
    if settings.audit_signing_key_path.exists():
        info = checkpoint.session_info(
            checkpoint.load_signer(settings), settings.audit_checkpoint_every
        )
    return make_sessionmaker(engine, info=info)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, fed with (done, total) as a long command goes; shown from
    the first step on (a command refused before it has none)."""
    with ExitStack() as stack:
        bars: list[Any] = []

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(
                    stack.enter_context(
                        typer.progressbar(length=total, label=label, file=sys.stderr)
                    )
                )
            bar = bars[0]
            bar.length = total
            bar.update(done - bar.pos)

        yield progress


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(_sessions(settings, engine)) as session:
            yield session
    finally:
        engine.dispose()


def _initialise(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_local_keys(settings.keys_dir)
    checkpoint.ensure_signing_key(settings.audit_signing_key_path)
    if not (settings.keyring or settings.keyring_file):
        LocalKeyringProvider.create(settings.local_keyring_path)
    # A data migration that opens cases uses this deployment's keyring, as the service does.
    migrate.upgrade(settings.database_url, keys=lambda: configured_provider(settings))


@cli.command()
@_one_line_errors
def init() -> None:
    """Create the data dir, the local keys and the schema (idempotent)."""
    settings = get_settings()
    _initialise(settings)
    typer.echo(json.dumps({"data_dir": str(settings.data_dir.resolve()), "schema": "head"}))


@cell_cli.command("add")
@_one_line_errors
def cell_add(
    name: Annotated[str, typer.Option(help="The cell's name, e.g. 'CENOMED 18e'")],
    kind: Annotated[CellKind, typer.Option(help="cenomed or recidivism")],
    arrondissement: Annotated[int, typer.Option(min=1, max=20, help="1 to 20")],
) -> None:
    """Create a cell; prints its id."""
    with _session(get_settings()) as session:
        cell_id = directory_service.create_cell(
            session, name=name, kind=kind, arrondissement=arrondissement
        ).id
    typer.echo(cell_id)


@user_cli.command("add")
@_one_line_errors
def user_add(
    username: Annotated[str, typer.Option(help="The account name (the token's subject)")],
    role: Annotated[Role, typer.Option(help="The account's role")],
    organisation: Annotated[
        Organisation | None, typer.Option(help="Required for members; implied for other roles")
    ] = None,
    cell: Annotated[
        list[int] | None, typer.Option(help="A cell the user belongs to (repeatable)")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Professional address for e-mail notifications")
    ] = None,
) -> None:
    """Create an account; prints its id."""
    with _session(get_settings()) as session:
        user_id = directory_service.create_user(
            session,
            username=username,
            role=role,
            organisation=organisation,
            cell_ids=cell or [],
            email=email,
        ).id
    typer.echo(user_id)


@user_cli.command("set-email")
@_one_line_errors
def user_set_email(
    username: Annotated[str, typer.Option(help="The account")],
    email: Annotated[
        str | None, typer.Option(help="Its professional address for e-mail notifications")
    ] = None,
    clear: Annotated[bool, typer.Option(help="Remove the address: no more e-mail")] = False,
) -> None:
    """Set (or with --clear remove) the address an account's notifications go to."""
    if (email is None) == (not clear):
        raise _fail("give --email ADDRESS, or --clear to remove the address")
    with _session(get_settings()) as session:
        user_id = directory_service.set_email(session, username=username, email=email).id
    typer.echo(user_id)


@notify_cli.command("run")
@_one_line_errors
def notify_run(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due, then exit (for a cron job)")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=1, help="Seconds between two rounds, without --once")
    ] = 30.0,
) -> None:
    """Deliver the e-mail notifications that are due (one sender at a time, by a database
    lock); prints what each round did as JSON."""
    from app.notifications import sender

    settings = get_settings()
    if not settings.notifications_enabled:
        raise _fail("no SMTP host configured (CENOMED_SMTP_HOST): there is nothing to send")
    engine = make_engine(settings.database_url)
    try:
        sessions = _sessions(settings, engine)
        while True:
            report = sender.run_once(sessions, settings)
            typer.echo(json.dumps(asdict(report)))
            if once:
                break
            time.sleep(interval)
    finally:
        engine.dispose()


@user_cli.command("set-password")
@_one_line_errors
def user_set_password(
    username: Annotated[str, typer.Argument(help="The account")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (scripts)")
    ] = False,
) -> None:
    """Set an account's password for the web sign-in of the embedded default (argon2id).

    Asked twice, hidden, unless --password-stdin. Ends the account's open web sessions.
    """
    from app.web import passwords, signin

    if password_stdin:
        line = read_bounded_line(
            sys.stdin.buffer, limit=PASSWORD_LINE_MAX_BYTES, what="--password-stdin"
        )
        try:
            password = line.decode()
        except UnicodeDecodeError:
            raise _fail("--password-stdin: the line is not UTF-8 text") from None
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    passwords.check_new_password(password)
    with _session(get_settings()) as session:
        user_id = signin.set_password(session, username=username, password=password)
    typer.echo(user_id)


@user_cli.command("deactivate")
@_one_line_errors
def user_deactivate(
    username: Annotated[str, typer.Option(help="The account to deactivate")],
) -> None:
    """Deactivate an account: refused from its very next request (R3); prints its id."""
    with _session(get_settings()) as session:
        user_id = directory_service.deactivate_user(session, username=username).id
    typer.echo(user_id)


@cli.command()
@_one_line_errors
def token(
    username: Annotated[str, typer.Argument(help="An active account")],
    ttl: Annotated[
        int | None, typer.Option(min=1, max=7 * 24 * 3600, help="Lifetime in seconds")
    ] = None,
) -> None:
    """Print a bearer token signed by the local issuer."""
    settings = get_settings()
    with _session(settings) as session:
        issued = _issue_token(session, settings, username, ttl)
    typer.echo(issued)


def _issue_token(session: Session, settings: Settings, username: str, ttl: int | None) -> str:
    """A token for an active account; issuing one is a credential operation, so it is logged."""
    user = directory.get_user_by_username(session, username)
    if user is None or not user.active:
        raise NotFound("No active account has this username.")
    trail.record(
        session, trail.OPERATOR, Action.ISSUE_TOKEN, severity=trail.HIGH, detail=f"user:{user.id}"
    )
    return issue_local_token(settings, username, ttl)


@cli.command()
@_one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, envvar="CENOMED_WORKERS", help="Worker processes")
    ] = 1,
) -> None:
    """Run the API (OpenAPI docs at /docs); JSON log lines on stderr, metrics at /metrics."""
    import uvicorn

    settings = get_settings()
    if workers > 1 or os.environ.get(MULTIPROCESS_DIR_ENV):
        prepare_metrics_directory()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(settings.log_format, settings.log_level),
        access_log=False,
    )


def prepare_metrics_directory() -> Path:
    """An empty directory where the workers write their samples (set before they start, so
    that each one counts in it; emptied, because the counters of a previous run are stale)."""
    configured = os.environ.get(MULTIPROCESS_DIR_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="cenomed-metrics-"))
        os.environ[MULTIPROCESS_DIR_ENV] = str(directory)
    return directory


@keys_cli.command("rotate")
@_one_line_errors
def keys_rotate(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Data keys per transaction")] = 500,
) -> None:
    """New key-encryption key; every data key re-wrapped; old key retired. Resumable.

    A retired key keeps unwrapping until the next rotation destroys it (once unused).
    """
    settings = get_settings()
    engine = make_engine(settings.database_url)
    vault = make_vault(settings)
    try:
        with _progress("re-wrapping data keys") as progress:
            report = rotate(vault, _sessions(settings, engine), batch=batch, on_batch=progress)
    finally:
        engine.dispose()
    typer.echo(json.dumps(asdict(report)))


@cli.command()
@_one_line_errors
def purge(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be destroyed, by rule; change nothing"),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Apply the rules as on this date, today or earlier (YYYY-MM-DD; default "
            "today, Paris)"
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help="Destroy even more than CENOMED_PURGE_MAX_SHARE of the cases without asking",
        ),
    ] = False,
) -> None:
    """Destroy the cases the retention rules (R18) name; keep their statistics. Resumable.

    More than CENOMED_PURGE_MAX_SHARE of the cases not yet purged in one run is asked for
    in a terminal, refused without --yes otherwise. Prints a JSON report: the case ids by
    rule, how many were destroyed, and those a step changed meanwhile (left for the next
    run). Progress goes to stderr.
    """
    from app.retention.service import PurgeRefused
    from app.retention.service import purge as run_purge

    settings = get_settings()
    on = _as_of(as_of)
    engine = make_engine(settings.database_url)
    try:
        with _progress("purging") as progress:
            report = run_purge(
                _sessions(settings, engine),
                make_vault(settings),
                as_of=on,
                dry_run=dry_run,
                max_share=settings.purge_max_share,
                confirm=lambda report: yes or _confirm_purge(report),
                on_case=progress,
            )
    except PurgeRefused as refused:
        raise _fail(_purge_refusal(refused.report)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(asdict(report), default=str))


def _as_of(given: str | None) -> date:
    """The purge's date: today (Paris) by default; never later (the rules would destroy
    ahead of time what they keep until then)."""
    today = clock.today()
    if not given:
        return today
    try:
        on = date.fromisoformat(given)
    except ValueError:
        raise _fail("--as-of takes a date as YYYY-MM-DD") from None
    if on > today:
        raise _fail(
            f"--as-of {on} is later than today ({today}, Paris): the rules apply as on today "
            "or an earlier day; nothing was done"
        )
    return on


def _share_of(report: PurgeReport) -> str:
    return (
        f"{report.to_destroy} of the {report.not_purged} cases not yet purged "
        f"({report.share:.1%}, more than CENOMED_PURGE_MAX_SHARE "
        f"{(report.max_share or 0) * 100:g}%)"
    )


def _confirm_purge(report: PurgeReport) -> bool:
    """Asked in a terminal only; without one, no (the command then says to add --yes)."""
    if not sys.stdin.isatty():
        return False
    try:
        # The question and its answer's prompt on stderr only: stdout is the JSON report's
        # (click's input() would write a space there).
        with redirect_stdout(sys.stderr):
            return typer.confirm(
                f"This purge destroys {_share_of(report)}. Destroy them?", default=False, err=True
            )
    except typer.Abort:
        return False


def _purge_refusal(report: PurgeReport) -> str:
    if sys.stdin.isatty():
        return f"not confirmed: nothing was destroyed ({_share_of(report)})"
    return (
        f"this purge would destroy {_share_of(report)}: nothing was destroyed; check --as-of "
        "and the clock, then run it again with --yes"
    )


@cli.command()
@_one_line_errors
def backup(
    dest: Annotated[
        Path, typer.Argument(help="A new or empty directory (made 0700) for the database's copy")
    ],
    keys_to: Annotated[
        Path | None,
        typer.Option(
            help="Also copy the key files into this new or empty directory, on another medium "
            "(never in or around DEST)"
        ),
    ] = None,
) -> None:
    """Back up the database (never the keys) with a manifest; safe while the service runs.

    Prints a JSON summary: counts, hashes, the schema revision; no value of any case.
    """
    from app.backup.service import backup as run_backup

    settings = get_settings()
    summary = run_backup(
        settings,
        _absolute(dest),
        keys_to=_absolute(keys_to) if keys_to is not None else None,
        sessions_for=lambda engine: _sessions(settings, engine),
    )
    typer.echo(json.dumps(asdict(summary)))


@cli.command()
@_one_line_errors
def restore(
    src: Annotated[Path, typer.Argument(help="A directory 'cenomed backup' wrote")],
    keys_from: Annotated[
        Path | None,
        typer.Option(help="Copy the key files 'backup --keys-to' saved into the data dir first"),
    ] = None,
) -> None:
    """Restore a backup into the configured, empty database, then check it.

    Refuses (changing nothing) a damaged backup or a database that holds cenomed tables.
    After loading: migrates an older schema, verifies the audit log, checks that the keys
    unwrap every data key. Prints a JSON report.
    """
    from app.backup import RestoreCheckFailed
    from app.backup.service import restore as run_restore

    settings = get_settings()
    try:
        report = run_restore(
            settings,
            _absolute(src),
            keys_from=_absolute(keys_from) if keys_from is not None else None,
            sessions_for=lambda engine: _sessions(settings, engine),
        )
    except RestoreCheckFailed as failure:
        typer.echo(json.dumps(failure.report))
        raise _fail(str(failure)) from None
    typer.echo(json.dumps(asdict(report)))


def _absolute(path: Path) -> Path:
    """A path given relative to the working directory, made absolute ('..' resolved, as the
    kernel does: SQLite alone stops at a '..' beyond the root)."""
    return path.resolve()


@policy_cli.command("matrix")
@_one_line_errors
def policy_matrix() -> None:
    """Print the visibility matrix (Markdown) computed from the policies."""
    from app.policy.matrix import render

    typer.echo(render(), nl=False)


@audit_cli.command("verify")
@_one_line_errors
def audit_verify(
    checkpoint_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint kept outside the database (repeatable)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The log's public key as 'audit export-key' printed it (default: this "
            "server's own signing key)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Recompute the audit chain and check every checkpoint: exit 0 if intact, else 1 and the
    first bad sequence number; 2 if a file given is not a checkpoint or a public key."""
    settings = get_settings()
    verifier = _verifier_key(settings, public_key)
    notes = [(path.name, _checkpoint_note(path)) for path in checkpoint_file or []]
    with _session(settings) as session:
        verdict = checkpoint.verify_log(session, verifier, notes)
    typer.echo(json.dumps(asdict(verdict)))
    if not verdict.valid:
        where = f" at event {verdict.first_bad_seq}" if verdict.first_bad_seq else ""
        raise _fail(f"the audit log is broken{where}: {verdict.problem}")


def _checkpoint_note(path: Path) -> str:
    """A checkpoint given to 'audit verify'; a file that is not one is refused (exit 2) as
    what it is, a wrong file, not taken for a sign that the log is broken (exit 1)."""
    try:
        data = read_bounded(path, limit=CHECKPOINT_MAX_BYTES, what="--checkpoint")
    except InputRefused as refused:
        raise _fail(str(refused), BAD_INPUT) from None
    try:
        note = data.decode()
        checkpoint.check_form(note)
    except UnicodeDecodeError:
        raise _fail(f"--checkpoint {path} is not a checkpoint: not UTF-8 text", BAD_INPUT) from None
    except checkpoint.NotACheckpoint as error:
        raise _fail(f"--checkpoint {path} is not a checkpoint: {error}", BAD_INPUT) from None
    return note


def _verifier_key(settings: Settings, public_key: Path | None) -> checkpoint.VerifierKey:
    if public_key is None:
        return checkpoint.load_signer(settings).verifier
    try:
        text = read_bounded_text(public_key, limit=PUBLIC_KEY_MAX_BYTES, what="--public-key")
        return checkpoint.VerifierKey.decode(text)
    except InputRefused as refused:
        raise _fail(str(refused), BAD_INPUT) from None
    except checkpoint.BadCheckpoint as error:
        raise _fail(f"--public-key {public_key} is not a public key: {error}", BAD_INPUT) from None


@audit_cli.command("checkpoint")
@_one_line_errors
def audit_checkpoint() -> None:
    """Sign and store a checkpoint of the log as it stands; prints it (a signed note)."""
    settings = get_settings()
    signer = checkpoint.load_signer(settings)
    with _session(settings) as session:
        note = checkpoint.checkpoint_now(session, signer)
        trail.record(session, trail.OPERATOR, Action.CHECKPOINT, severity=trail.HIGH)
    typer.echo(note, nl=False)


@audit_cli.command("export-key")
@_one_line_errors
def audit_export_key() -> None:
    """Print the log's public key, for partners to keep with the checkpoints they hold."""
    typer.echo(checkpoint.load_signer(get_settings()).verifier.encode())


@witness_cli.command("init")
@_one_line_errors
def witness_init(
    name: Annotated[str, typer.Option(help="The witness's name, e.g. witness.parquet.example")],
    state: Annotated[Path, typer.Option(help="The witness's state directory", file_okay=False)],
) -> None:
    """Create the witness's Ed25519 key (never over an existing one); prints its verifier
    key, for the log's operator to list in CENOMED_AUDIT_WITNESSES."""
    from app.witness import core

    try:
        typer.echo(core.init(state, name).encode())
    except core.WitnessKeyError as error:
        raise _fail(str(error)) from None


@witness_cli.command("serve")
@_one_line_errors
def witness_serve(
    state: Annotated[Path, typer.Option(help="The state directory 'witness init' made")],
    log_key: Annotated[
        str, typer.Option(help="The log's verifier key, as 'cenomed audit export-key' prints it")
    ],
    origin: Annotated[
        str | None, typer.Option(help="The log's origin line (default: its key's name)")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 7380,
) -> None:
    """Serve POST /add-checkpoint: cosign each checkpoint that extends the last one cosigned."""
    import logging

    import uvicorn

    from app.audit.note import NoteError, VerifierKey
    from app.witness import core, server

    try:
        key = VerifierKey.parse(log_key)
    except NoteError as error:
        raise _fail(f"--log-key is not a verifier key: {error}", BAD_INPUT) from None
    try:
        witness = core.Witness(state, key, origin)
        latest = witness.latest()
    except core.WitnessKeyError as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"witness {witness.cosigner.verifier.encode()} of {witness.origin}, at size {latest.size}",
        err=True,
    )
    # Its own lines on stderr: each cosignature, and each refused signed checkpoint in full.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    uvicorn.run(server.create_app(witness), host=host, port=port, access_log=False)


DEMO_CELL = "CENOMED démo 18e"
DEMO_USERS: list[tuple[str, Role, Organisation | None, bool]] = [
    ("demo-coordinator", Role.COORDINATOR, None, True),
    ("demo-parquet", Role.PARQUET, None, True),
    ("demo-police", Role.MEMBER, Organisation.POLICE, True),
    ("demo-education", Role.MEMBER, Organisation.EDUCATION, True),
    ("demo-cst", Role.CST, None, True),
    ("demo-auditor", Role.AUDITOR, None, False),
    ("demo-steering", Role.STEERING, None, False),
    ("demo-admin", Role.ADMIN, None, False),
]


@cli.command()
@_one_line_errors
def demo(
    ttl: Annotated[int, typer.Option(min=60, help="Lifetime of the printed tokens")] = 8 * 3600,
    keep_passwords_from: Annotated[
        Path | None,
        typer.Option(
            help="A previous run's output: its web passwords that still work are kept and "
            "printed again (make run passes var/demo-tokens.tsv)"
        ),
    ] = None,
) -> None:
    """Init, a demo cell with example cases, one user per role; prints each username, an API
    token and a web password (the previous one where it still works, else a new one)."""
    from app.demo import seed_cases

    settings = get_settings()
    _initialise(settings)
    with _session(settings) as session:
        cell = directory.get_cell_by_name(session, DEMO_CELL) or directory_service.create_cell(
            session, name=DEMO_CELL, kind=CellKind.CENOMED, arrondissement=18
        )
        version = settings.charter_version
        for username, role, organisation, in_cell in DEMO_USERS:
            if directory.get_user_by_username(session, username) is None:
                directory_service.create_user(
                    session,
                    username=username,
                    role=role,
                    organisation=organisation,
                    cell_ids=[cell.id] if in_cell else [],
                )
            # The demo accounts have read the charter; real accounts accept it themselves.
            demo_user = directory_service.load_principal(session, username, charter_version=version)
            assert demo_user is not None
            directory_service.accept_charter(
                session, principal=demo_user, version=version, current_version=version
            )
        seed_cases(session, vault=make_vault(settings), cell_id=cell.id, charter_version=version)
        # A web password per account: the previous run's where it still signs in (a second
        # make run keeps what the newcomer noted), else a new random one.
        previous = _previous_demo_passwords(keep_passwords_from)
        accounts = [
            (
                username,
                _issue_token(session, settings, username, ttl),
                _demo_password(session, username, previous.get(username)),
            )
            for username, *_ in DEMO_USERS
        ]
    typer.echo(
        f"# demo cell {cell.id}; username, API token (valid {timedelta(seconds=ttl)}), "
        "web password",
        err=True,
    )
    for username, issued, password in accounts:
        typer.echo(f"{username}\t{issued}\t{password}")


def _previous_demo_passwords(path: Path | None) -> dict[str, str]:
    """The third column of a previous ``cenomed demo`` output, by username (none if the file
    is missing: the first run)."""
    if path is None or not path.is_file():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split("\t")
        if len(columns) == 3 and columns[0].startswith("demo-"):
            found[columns[0]] = columns[2]
    return found


def _demo_password(session: Session, username: str, previous: str | None) -> str:
    from app.directory import repository as accounts
    from app.web import passwords, signin

    user = accounts.get_user_by_username(session, username)
    if previous is not None and user is not None and user.password_hash is not None:
        if passwords.verify_password(user.password_hash, previous):
            return previous
    password = secrets.token_urlsafe(12)
    signin.set_password(session, username=username, password=password)
    return password


def main() -> None:
    # Whatever the service writes (database, keys, WAL files) is for its own account only.
    os.umask(0o077)
    try:
        code = cli(prog_name="cenomed", standalone_mode=False)
    except typer.Abort:
        typer.echo("cenomed: aborted", err=True)
        sys.exit(1)
    except typer.TyperException as error:
        message = error.format_message().strip()
        if "\n" in message:  # a group called without its command: its help screen
            typer.echo(message, err=True)
            sys.exit(2)
        # Usage errors too: one line that says what is wrong, not a framed help screen.
        typer.echo(f"cenomed: {message}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
