"""The `stashplex` command line.

Exit codes: 0 all well (or waiting for a retry), 1 a job was dead-lettered in this
run (or a check failed), 2 bad configuration, 3 Stash or Plex unreachable or refusing
the credentials, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from reconciler import __version__, startup
from reconciler.config import DEFAULT_CONFIG_FILE, Config, load_config
from reconciler.errors import ConfigError, LibraryNotFound, StashplexError
from reconciler.lock import DatabaseLock
from reconciler.logs import setup_logging
from reconciler.pathguess import SAMPLE_SIZE
from reconciler.redact import redact, register_secret
from reconciler.store import Store, StoreError, is_activity_key
from reconciler.wording import error_in_words

EXIT_OK, EXIT_DEAD, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

log = logging.getLogger("stashplex")

DESCRIPTION = """\
Keeps a Plex Media Server's metadata in step with Stash, by polling both.

examples:
  stashplex demo                         try it against the bundled emulators
  stashplex init                         write stashplex.yaml for your servers
  stashplex check                        is the setup right?
  stashplex reconcile --dry-run          show what a full pass would change
  stashplex run --config /etc/stashplex/stashplex.yaml
"""


def _common_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--config, --log-level and --log-file, taken before or after the command.

    The copies on each command default to SUPPRESS, so they only override what was
    given before the command when they are given themselves.
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help="config file (default: $STASHPLEX_CONFIG, else ./stashplex.yaml)",
    )
    parser.add_argument(
        "--log-level",
        default=default("INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default INFO",
    )
    parser.add_argument(
        "--log-file", metavar="PATH", default=default(None), help="also log to a rotating file"
    )


def _command(
    commands: argparse._SubParsersAction, name: str, summary: str, text: str, **kwargs
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=summary,
        description=text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    _common_options(parser, defaults=False)
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stashplex",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, defaults=True)
    parser.add_argument(
        "--reconcile-all", action="store_true", help="the same as the reconcile command"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --reconcile-all: show the changes only"
    )
    parser.add_argument("--version", action="version", version=f"stashplex {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _command(
        commands,
        "run",
        "the daemon: poll both servers and keep Plex in step (the default)",
        "Run as a daemon until SIGTERM or SIGINT: poll Stash and Plex every "
        "schedule.poll_interval, drain the queue every schedule.process_interval and make a "
        "full pass every schedule.reconcile_interval.\n\nexample:\n"
        "  stashplex run --config /etc/stashplex/stashplex.yaml",
    )
    reconcile = _command(
        commands,
        "reconcile",
        "one full pass over both libraries, then exit (also: --reconcile-all)",
        "Sweep every Stash scene and every Plex item, write what differs, drain the queue "
        "once and print a summary. Ctrl-C stops after the batch in hand; run it again to "
        "finish.\n\nexit status: 0 in sync or waiting for a retry, 1 something was "
        "dead-lettered or no scene lies in a configured library, 2 bad configuration, "
        "3 Stash or Plex unreachable or refusing the credentials, 130 interrupted.\n\n"
        "examples:\n  stashplex reconcile --dry-run\n  stashplex reconcile",
    )
    reconcile.add_argument(
        "--dry-run",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the field-level changes, write nothing",
    )
    _command(
        commands,
        "check",
        "check the config, both servers, the libraries and path_map",
        "Check that the config is valid, that Stash and Plex answer and accept their "
        "credentials, that every library in plex.libraries exists, and that the files of up "
        f"to {SAMPLE_SIZE} Stash scenes are found in Plex through path_map; when few are, "
        "propose the path_map entries that would find them. Exit 0 only when all hold."
        "\n\nexample:\n  stashplex check",
    )
    init = _command(
        commands,
        "init",
        "write a config file for your servers, then check it",
        "Write the documented config (every key, with its default) filled in with your "
        "servers: asks for what the flags do not give, lists Plex's libraries to choose "
        "from, proposes path_map from the files both servers list, and runs check.\n\n"
        "examples:\n  stashplex init\n  stashplex init --path /etc/stashplex/stashplex.yaml "
        "--stash-url http://nas:9999 --plex-url http://nas:32400 --plex-token TOKEN "
        "--library Adult --yes",
    )
    init.add_argument("--path", metavar="FILE", default=DEFAULT_CONFIG_FILE,
                      help=f"where to write (default {DEFAULT_CONFIG_FILE})")
    init.add_argument("--stash-url", metavar="URL")
    init.add_argument("--stash-api-key", metavar="KEY",
                      help="or $STASHPLEX_STASH_API_KEY")
    init.add_argument("--plex-url", metavar="URL")
    init.add_argument("--plex-token", metavar="TOKEN", help="or $STASHPLEX_PLEX_TOKEN")
    init.add_argument("--library", action="append", metavar="TITLE",
                      help="a Plex library holding your Stash files (repeat for several)")
    init.add_argument("--yes", action="store_true",
                      help="ask nothing: take the flags, the proposals and the defaults")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    _command(
        commands,
        "demo",
        "try stashplex against the bundled Stash and Plex emulators",
        "Start the bundled emulators with a sample library, run a full pass, then edit a "
        "scene in Stash and show the daemon carrying it to Plex. Leaves nothing running."
        "\n\nexample:\n  stashplex demo",
    )
    status = _command(
        commands,
        "status",
        "queue figures, watermarks and the Plex outage flag",
        "Show queue counts, the dead-letter queue size, the oldest waiting job, both "
        "watermarks and whether Plex work is paused.\n\nexamples:\n  stashplex status\n"
        "  sudo -u stashplex stashplex status --config /etc/stashplex/stashplex.yaml\n"
        "  stashplex status --json",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser(
        "health",
        help="exit 0 when the daemon polls and both servers answer, else 1, in one line",
        description="Healthy (exit 0) when the last poll completed within three poll "
        "intervals and neither server's last answer was an error; otherwise exit 1 with one "
        "line naming the server and what it said. Reads the database only.\n\nexample:\n"
        "  stashplex health",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    dlq = _command(
        commands,
        "dlq",
        "list, retry or purge dead-lettered jobs",
        "The dead-letter queue holds jobs that failed for good.\n\nexamples:\n"
        "  stashplex dlq list\n  stashplex dlq retry 3\n  stashplex dlq retry --all\n"
        "  stashplex dlq purge --older-than 30d",
    )
    dlq_commands = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    dlq_list = _command(dlq_commands, "list", "show every dead letter",
                        "example: stashplex dlq list --json")
    dlq_list.add_argument("--json", action="store_true", help="machine-readable output")
    dlq_retry = _command(dlq_commands, "retry", "queue dead letters again",
                         "example: stashplex dlq retry 3 4")
    dlq_retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    dlq_retry.add_argument("--all", action="store_true", help="every dead letter")
    dlq_purge = _command(dlq_commands, "purge", "forget dead letters",
                         "example: stashplex dlq purge --older-than 30d")
    dlq_purge.add_argument(
        "--older-than", metavar="AGE", help="only older ones, e.g. 30d, 12h, 90m (default: all)"
    )
    return parser


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s' or plain seconds, as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ConfigError(
            f"--older-than: expected an age like 30d, 12h or 90m, got {text!r}"
        ) from None


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _existing_store(config: Config, read_only: bool = False) -> Store:
    """The database for commands that only read it: a mistyped path must not create one.

    `read_only` opens it without taking any lock, so it never waits for the daemon's writes."""
    if not Path(config.database).exists():
        raise ConfigError(
            f"database: no database at {config.database} yet; check the path, or run "
            "stashplex first"
        )
    return Store(config.database, read_only=read_only)


def cmd_health(config: Config, args: argparse.Namespace) -> int:
    from reconciler.health import verdict
    from reconciler.status import read_health

    store = _existing_store(config, read_only=True)
    try:
        healths, last_poll = read_health(store)
    finally:
        store.close()
    judged = verdict(healths, last_poll, config.schedule.poll_interval, time.time())
    print(judged.line)
    return EXIT_OK if judged.healthy else EXIT_DEAD


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    from reconciler.health import trouble
    from reconciler.status import collect_status, read_health

    store = _existing_store(config, read_only=True)
    try:
        report = collect_status(store)
        healths, _ = read_health(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return EXIT_OK
    now = time.time()
    queue = report["queue"]
    print(
        f"queue:        {queue['queued']} queued ({queue['waiting_retry']} waiting for a retry), "
        f"{queue['running']} in hand"
    )
    print(f"dead letters: {report['dead_letters']}")
    if report["skipped_by_require"]:
        print(f"skipped:      {report['skipped_by_require']} by sync.require or sync.exclude_tags "
              "(last full pass)")
    oldest = report["oldest_waiting"]
    print(
        "oldest job:   "
        + (f"scene {oldest['scene_id']} since {_when(oldest['since'])}" if oldest else "none")
    )
    marks = report["watermarks"]
    print(f"stash mark:   {marks.get('stash_scenes') or 'none yet'}")
    print(f"plex mark:    {marks.get('plex') or 'none yet'}")
    last_poll = report["last_poll"]
    print(f"last poll:    {_when(last_poll) if last_poll else 'never completed a poll'}")
    print(f"last write:   {_when(report['last_write'])}")
    for health in healths:
        print(f"{health.server + ':':<13} {trouble(health, now).split(': ', 1)[1]}")
    paused = report["plex_paused_since"]
    print("plex work:    " + (f"PAUSED since {_when(paused)}" if paused else "running"))
    back = report["carried_back"]
    if back["last"] or back["turned_off"]:
        last = back["last"]
        print(
            f"from plex:    {back['plays']} plays, {back['resumes']} resume points, "
            f"{back['ratings']} ratings, {back['links']} links carried to Stash"
            + (f"; last: scene {last['scene_id']} {_when(last['at'])}" if last else "")
        )
        for feature, why in sorted(back["turned_off"].items()):
            print(f"              plex_to_stash.{feature} is off: {why}")
    return EXIT_OK


def _letter_dict(letter) -> dict:
    return {
        "id": letter.id,
        "scene_id": letter.scene_id,
        "title": letter.title,
        "file": letter.file,
        "error_class": letter.error_class,
        "error_kind": error_in_words(letter.error_class, letter.error_message),
        "error": letter.error_message,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at,
    }


def _fresh_scenes(config: Config, store: Store, ids: list[int] | None) -> dict[str, dict]:
    """The dead-lettered scenes as Stash has them now, so a retry does not write an old copy."""
    from reconciler.stash import StashClient

    scene_ids = sorted(
        {
            letter.scene_id
            for letter in store.dead_letters()
            if (ids is None or letter.id in ids) and not is_activity_key(letter.scene_id)
        }
    )
    if not scene_ids:
        return {}
    stash = StashClient(config.stash)
    try:
        return {scene.id: scene.to_dict() for scene in stash.scenes_by_ids(scene_ids)}
    except StashplexError as exc:
        log.warning("retrying with the scenes as they were when they failed: %s", exc)
        return {}
    finally:
        stash.close()


def cmd_dlq(config: Config, args: argparse.Namespace) -> int:
    store = _existing_store(config, read_only=args.dlq_command == "list")
    if args.dlq_command == "list":
        letters = [_letter_dict(letter) for letter in store.dead_letters()]
        if args.json:
            print(json.dumps(letters, indent=2))
            return EXIT_OK
        if not letters:
            print("the dead-letter queue is empty")
        for letter in letters:
            print(f"#{letter['id']}  scene {letter['scene_id']}  {letter['title'] or '(no title)'}")
            print(f"     file:     {letter['file'] or '(none)'}")
            print(f"     error:    {letter['error_kind']}: {letter['error']}")
            print(f"     attempts: {letter['attempts']}, failed {_when(letter['failed_at'])}")
        return EXIT_OK
    if args.dlq_command == "retry":
        if not args.all and not args.ids:
            raise ConfigError("dlq retry: give dead-letter IDs (see 'stashplex dlq list') or --all")
        ids = None if args.all else args.ids
        unknown = [] if ids is None else sorted(set(ids) - {d.id for d in store.dead_letters()})
        known = None if ids is None else [i for i in ids if i not in unknown]
        count = store.retry_dead_letters(known, fresh=_fresh_scenes(config, store, known))
        print(f"{count} dead letter(s) queued again")
        if unknown:
            print(
                f"stashplex: dlq retry: no dead letter #{', #'.join(map(str, unknown))}; "
                "see stashplex dlq list",
                file=sys.stderr,
            )
            return EXIT_DEAD
        return EXIT_OK
    older = parse_age(args.older_than) if args.older_than else None
    count = store.purge_dead_letters(older)
    print(f"{count} dead letter(s) purged")
    return EXIT_OK


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return repr(value) if value not in (None, "") else "(empty)"


class Interrupted(Exception):
    """Ctrl-C during a one-shot run: stop at the next safe point."""


class _StopOnInterrupt:
    """The first Ctrl-C asks the run to stop after the batch in hand (nothing is lost);
    a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __enter__(self) -> _StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("interrupted: finishing the batch in hand (Ctrl-C again to stop at once)")

    def __call__(self) -> bool:
        return self.requested


def _dry_run(app, progress) -> int:
    report, scenes = app.engine.sweep(progress, dry_run=True)
    changes = 0
    for planned in app.worker.preview(scenes):
        scene = planned.scene
        if planned.error is not None:
            print(f"{scene.label}: would fail: {planned.error}")
            continue
        parts = [part for part in planned.parts() if part.edit]
        changes += bool(parts)
        for part in parts:  # each Plex item holding one of the scene's files
            outcome = part.edit
            print(f"{scene.label} -> Plex item {part.rating_key}")
            for change in outcome.changes:
                note = " (lock only)" if change.lock_only else ""
                print(f"    {change.field}: {_show(change.old)} -> {_show(change.new)}{note}")
            if outcome.actor_thumbs and any(c.field == "performers" for c in outcome.changes):
                print(f"    performer photos: {len(outcome.actor_thumbs)} sent with the actors")
            if outcome.poster:
                print("    poster: new screenshot from Stash")
            elif outcome.lock_poster:
                print("    poster: (lock only)")
            if outcome.art:
                print("    background: new screenshot from Stash")
            elif outcome.lock_art:
                print("    background: (lock only)")
    carried = app.preview_activity() if app.catalog.activity is not None else {}
    for scene_id, what in carried.items():
        print(f"scene {scene_id} <- Plex: {', '.join(what)}")
    back = f", {len(carried)} would get activity from Plex" if carried else ""
    print(
        f"dry run: {report.seen} scenes seen, {changes} would be updated{back}, "
        f"{report.unmatched} unmatched; nothing was written"
    )
    return EXIT_OK


def cmd_reconcile(config: Config, args: argparse.Namespace) -> int:
    from reconciler.app import App
    from reconciler.progress import Progress

    lock = DatabaseLock(config.database).acquire()
    app = App(config)
    stop = _StopOnInterrupt()
    try:
        with stop, Progress() as bar:

            def progress(stage: str, done: int, total: int | None) -> None:
                bar(stage, done, total)
                if stop() and stage != "drain":
                    raise Interrupted

            if args.dry_run:
                return _dry_run(app, progress)
            app.store.recover()
            try:
                summary = app.reconcile_all(progress, should_stop=stop)
            except Interrupted:
                summary = None
        if stop():
            written = summary.updated if summary else 0
            queued = app.store.counts().queued
            print(f"interrupted: {written} written, {queued} queued; run again to finish")
            return EXIT_INTERRUPTED
    except Interrupted:
        print("interrupted: nothing was written")
        return EXIT_INTERRUPTED
    finally:
        app.close()
        lock.release()
    for line in summary.lines():
        print(line)
    return EXIT_DEAD if summary.dead or summary.nothing_matched else EXIT_OK


cmd_reconcile_all = cmd_reconcile  # the name callers knew before the reconcile command


def cmd_init(args: argparse.Namespace) -> int:
    from reconciler.init import run_init

    return run_init(args)


class _StopRequest:
    """SIGTERM or SIGINT before the daemon is up: remembered, so it stops as soon as it can."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signals: list[int] = []

    def __call__(self, signum: int, frame: object) -> None:
        self.signals.append(signum)
        self.event.set()

    def install(self) -> None:
        """First thing: a SIGTERM sent while the daemon starts must stop it cleanly (exit 0)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self)
        if startup.received():  # it came while the command line was still being imported
            self(signal.SIGTERM, None)

    def restore(self) -> None:
        """Commands other than the daemon end on a signal as usual; one that came counts."""
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.signals:
            raise SystemExit(128 + self.signals[0])


def main(argv: Sequence[str] | None = None) -> int:
    stop = _StopRequest()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        stop.install()
    parser = _parser()
    args = parser.parse_args(argv)
    command = args.command or ("reconcile" if args.reconcile_all else "run")
    if args.reconcile_all and command != "reconcile":
        parser.error(f"--reconcile-all: give it alone, or use the {command} command without it")
    if args.dry_run and command != "reconcile":
        parser.error("--dry-run: only works with reconcile (or --reconcile-all)")
    args.dry_run = getattr(args, "dry_run", False)
    if in_main_thread and command != "run":
        stop.restore()
    try:
        try:
            setup_logging(args.log_level, args.log_file)
        except OSError as exc:
            raise ConfigError(
                f"--log-file: cannot write {args.log_file} ({exc.strerror})"
            ) from None
        if command == "demo":
            from reconciler.demo import run_demo

            return run_demo()
        if command == "init":
            return cmd_init(args)
        config = load_config(args.config)
        for secret in config.secrets:
            register_secret(secret)
        for warning in config.warnings:
            log.warning("%s", warning)
        if command == "status":
            return cmd_status(config, args)
        if command == "health":
            return cmd_health(config, args)
        if command == "dlq":
            return cmd_dlq(config, args)
        if command == "reconcile":
            return cmd_reconcile(config, args)
        if command == "check":
            from reconciler.check import run_checks

            return run_checks(config)
        from reconciler.daemon import Daemon

        return Daemon(config, stop_event=stop.event).run()
    except (ConfigError, LibraryNotFound, StoreError) as exc:
        print(f"stashplex: {redact(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except StashplexError as exc:
        print(f"stashplex: {redact(str(exc))}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
