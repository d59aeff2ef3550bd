"""Stress kombu's filesystem transport: publishers write messages while consumers take them.

Prints, per transport, how many messages were sent, received, lost or duplicated, and how
many times a consumer failed to read a message (the ``JSONDecodeError`` that killed the
embedded worker). Run it on the stock transport and on the project's one:

    python benchmarks/broker_stress.py --transport kombu --messages 5000
    python benchmarks/broker_stress.py --transport assbdb --messages 5000

Each run uses its own temporary folder; nothing else is touched.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRANSPORTS = {
    "kombu": "kombu.transport.filesystem:Transport",
    "assbdb": "apps.jobs.filesystem_broker:Transport",
}


def _connection(transport: str, folder: str):
    from kombu import Connection

    return Connection(transport=TRANSPORTS[transport], transport_options={
        "data_folder_in": folder, "data_folder_out": folder, "control_folder": os.path.join(folder, "control"),
        "store_processed": False, "polling_interval": 0.001,
    })


def publish(transport: str, folder: str, start: int, count: int, payload_kb: int) -> None:
    with _connection(transport, folder) as conn:
        queue = conn.SimpleQueue("stress")
        body = "x" * (payload_kb * 1024)
        for number in range(start, start + count):
            queue.put({"n": number, "body": body})
        queue.close()


def consume(transport: str, folder: str, results, stop) -> None:
    from queue import Empty

    received, failures = [], 0
    with _connection(transport, folder) as conn:
        queue = conn.SimpleQueue("stress")
        while True:
            try:
                message = queue.get(timeout=0.05)
            except Empty:
                if stop.is_set():
                    break
                continue
            except Exception as exc:  # what the worker died of: count it and go on
                failures += 1
                if failures <= 3:
                    print(f"  consumer {os.getpid()}: {type(exc).__name__}: {str(exc)[:80]}", flush=True)
                continue
            received.append(message.payload["n"])
            message.ack()
        queue.close()
    results.put((received, failures))


def run(transport: str, messages: int, publishers: int, consumers: int, payload_kb: int) -> dict:
    folder = tempfile.mkdtemp(prefix=f"broker-stress-{transport}-")
    results, stop = mp.Queue(), mp.Event()
    readers = [mp.Process(target=consume, args=(transport, folder, results, stop)) for _ in range(consumers)]
    for reader in readers:
        reader.start()
    per = messages // publishers
    started = time.perf_counter()
    writers = [mp.Process(target=publish, args=(transport, folder, i * per, per, payload_kb)) for i in range(publishers)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    # Let the consumers drain what is left, then stop them.
    deadline = time.time() + 60
    while time.time() < deadline and any(name.endswith(".msg") for name in os.listdir(folder)):
        time.sleep(0.1)
    stop.set()
    got, failures = [], 0
    for _ in readers:
        received, failed = results.get(timeout=60)
        got += received
        failures += failed
    for reader in readers:
        reader.join()
    elapsed = time.perf_counter() - started
    sent = per * publishers
    return {
        "transport": transport, "sent": sent, "received": len(got), "lost": len(set(range(sent)) - set(got)),
        "duplicated": len(got) - len(set(got)), "read_failures": failures, "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=sorted(TRANSPORTS), action="append")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--payload-kb", type=int, default=4, help="message body size (a big body widens the race)")
    args = parser.parse_args()
    for transport in args.transport or sorted(TRANSPORTS):
        report = run(transport, args.messages, args.publishers, args.consumers, args.payload_kb)
        print(" ".join(f"{key}={value}" for key, value in report.items()), flush=True)


if __name__ == "__main__":
    main()
