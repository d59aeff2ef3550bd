"""kombu's filesystem transport, made safe for several processes: the embedded default's broker.

kombu 5.x writes a message file in place (open, lock, write) while a consumer
takes files without a lock (move, read): a consumer could take a file that was
created but not yet written, read ``b""`` and die of ``JSONDecodeError``
(``benchmarks/broker_stress.py`` measured 279 of 2,000 messages lost that way
with two publishers and two consumers). The same race exists for the
exchange tables, which are truncated and rewritten in place.

Here every file is written under a temporary name in the same folder and
``os.replace``d into place, so a reader sees a whole file or none; a message
is claimed by an atomic rename within the broker folder (never a copy across
file systems); a file that still cannot be read is moved to ``unreadable/``
with a warning instead of stopping the worker. Registered for ``filesystem://``
URLs by ``assbdb/celery.py``. No Django import: kombu loads it in any process.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

#: Names starting with a dot are never taken for messages (kombu matches ``<stamp>_<uuid>.<queue>.msg``).
TEMP_PREFIX = ".tmp-"


def write_atomically(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file, or the whole new one, never a part."""
    path = Path(path)
    temp = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class Channel(filesystem.Channel):
    @property
    def _claim_folder(self) -> Path:
        folder = Path(self.data_folder_in) / ".claimed"
        folder.mkdir(exist_ok=True)
        return folder

    def _put(self, queue, payload, **kwargs):
        filename = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(Path(self.data_folder_out) / filename, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {filename!r} to directory") from exc

    def _get(self, queue):
        queue_find = f"{queue}.msg"
        folder_in = Path(self.data_folder_in)
        for filename in sorted(os.listdir(folder_in)):
            if filename.startswith(".") or filename.partition(".")[2] != queue_find:
                continue
            target = Path(self.processed_folder) if self.store_processed else self._claim_folder
            claimed = target / filename
            try:
                os.rename(folder_in / filename, claimed)  # atomic: one consumer wins, the others move on
            except OSError:
                continue
            try:
                payload = claimed.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(claimed)!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(payload))
            except (ValueError, UnicodeDecodeError) as exc:
                self._set_aside(claimed, exc)
                continue
            if not self.store_processed:
                claimed.unlink(missing_ok=True)
            return message
        raise Empty()

    def _set_aside(self, claimed: Path, exc: Exception) -> None:
        aside = Path(self.data_folder_in) / "unreadable"
        aside.mkdir(exist_ok=True)
        try:
            os.replace(claimed, aside / claimed.name)
        except OSError:
            claimed.unlink(missing_ok=True)
        logger.warning("Broker message %s is unreadable (%s: %s); moved to %s.",
                       claimed.name, type(exc).__name__, exc, aside)

    def _update_table(self, exchange, change) -> None:
        """Read-modify-replace an exchange table under an exclusive lock on a side file."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        with open(file.with_name(f".{file.name}.lock"), "wb") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                try:
                    queues = [filesystem.exchange_queue_t(*q) for q in loads(bytes_to_str(file.read_bytes()))]
                except FileNotFoundError:
                    queues = []
                except (ValueError, UnicodeDecodeError):  # left half-written by a kombu without this fix
                    queues = []
                changed = change(queues)
                if changed is not None:
                    write_atomically(file, str_to_bytes(dumps(changed)))
            finally:
                filesystem.unlock(lock_file)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(queues):
            return None if entry in queues else [entry, *queues]

        try:
            self._update_table(exchange, add)
        except OSError as exc:
            raise ChannelError(f"Cannot open {self._exchange_file(exchange)}") from exc

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        filesystem.virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(queues):
            return [q for q in queues if q != entry] if entry in queues else None

        self._update_table(exchange, remove)

    def get_table(self, exchange):
        try:
            return super().get_table(exchange)
        except json.JSONDecodeError:  # a table written by a kombu without this fix: treat as empty
            return []


class Transport(filesystem.Transport):
    Channel = Channel
