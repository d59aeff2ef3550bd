"""`assbdb-harvest FOLDER`: the command line of the harvester."""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..client import Client
from .config import MappingError, load_mapping
from .harvester import Harvester
from .state import HarvestState


def default_state_path(folder: Path) -> Path:
    """One state file per watched folder, kept on the local disk (SQLite dislikes network drives)."""
    tag = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    return Path.home() / ".assbdb" / f"harvest-{folder.resolve().name or 'root'}-{tag}.sqlite3"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assbdb-harvest",
        description="Watch FOLDER (polling: works on network drives) and upload each new or changed instrument file "
        "to assbdb once it has stopped changing, to the cell named by the nearest assbdb.toml or by --mapping.",
    )
    p.add_argument("folder", type=Path, help="the folder the instrument writes into (subfolders included)")
    p.add_argument("--url", default=os.environ.get("ASSBDB_URL"), help="server, e.g. https://assbdb.example.org (env ASSBDB_URL)")
    p.add_argument("--token", default=os.environ.get("ASSBDB_TOKEN"), help="API token (env ASSBDB_TOKEN; better than the command line)")
    p.add_argument("--mapping", type=Path, help="TOML file of [[rule]] tables: glob, cell, conditions")
    p.add_argument("--state", type=Path, help="SQLite file remembering what was sent (default: ~/.assbdb/harvest-….sqlite3)")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between scans (default 10)")
    p.add_argument("--settle", type=float, default=5.0, help="seconds a file's size and mtime must stay unchanged (default 5)")
    p.add_argument("--retries", type=int, default=3, help="HTTP retries per request before a file waits for the next scan")
    p.add_argument("--once", action="store_true", help="scan once and exit (for cron and tests)")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent; send and remember nothing")
    p.add_argument("--no-events", action="store_true", help="do not use watchdog file events even when installed")
    p.add_argument("-v", "--verbose", action="store_true", help="also list files with no cell and log each HTTP retry")
    return p


def _watch_events(folder: Path, wake: threading.Event):
    """Wake the scan on file events when watchdog is installed; polling goes on regardless."""
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:
        return None

    class Wake(FileSystemEventHandler):
        def on_any_event(self, event):
            wake.set()

    observer = Observer()
    observer.schedule(Wake(), str(folder), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%Y-%m-%d %H:%M:%S", stream=sys.stderr
    )
    logging.getLogger("assbdb_client").setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("assbdb_client.harvest").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log = logging.getLogger("assbdb_client.harvest")
    folder: Path = args.folder
    if not folder.is_dir():
        log.error("%s is not a folder", folder)
        return 2
    if not args.dry_run and not args.url:
        log.error("give the server with --url or ASSBDB_URL")
        return 2
    if not args.dry_run and not args.token:
        log.error("give an API token with ASSBDB_TOKEN (or --token); create one on your account page")
        return 2
    try:
        mapping = load_mapping(folder.resolve(), args.mapping)
    except MappingError as error:
        log.error("%s", error)
        return 2
    state = HarvestState(args.state or default_state_path(folder))
    client = None if args.dry_run else Client(args.url, args.token, max_retries=args.retries)
    harvester = Harvester(root=folder, mapping=mapping, state=state, client=client, settle_s=args.settle, dry_run=args.dry_run)
    stop, wake = threading.Event(), threading.Event()
    observer = None if args.once or args.no_events else _watch_events(folder, wake)

    def request_stop(signum, frame):
        stop.set()
        wake.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
    log.info("harvesting %s -> %s (state %s)%s", folder, args.url or "(dry run)", state.path, " [dry run]" if args.dry_run else "")
    try:
        summary = harvester.run(interval_s=args.interval, once=args.once, stop=stop, wake=wake)
    except KeyboardInterrupt:
        summary = None
    finally:
        if observer is not None:
            observer.stop()
        if client is not None:
            client.close()
        state.close()
    return 1 if args.once and summary is not None and summary["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
