"""An SMTP server that accepts every message and counts it: the email benchmark's receiver.

It runs as its own process (`python -m bench.smtp_sink --port N`), so the server's work never
competes with the sender for one interpreter lock. Every message is accepted with 250 and
dropped; what is kept are totals: connections (EHLO/HELO greetings), messages, recipients and
bytes of message data. It prints `ready` once it listens, a JSON line of totals on SIGUSR1,
and the totals once more when SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Totals:
    connections: int = 0
    messages: int = 0
    recipients: int = 0
    bytes: int = 0


class CountingHandler:
    """aiosmtpd hooks: count greetings and messages, keep nothing."""

    def __init__(self) -> None:
        self.totals = Totals()

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.totals.connections += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        self.totals.connections += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.totals.messages += 1
        self.totals.recipients += len(envelope.rcpt_tos)
        self.totals.bytes += len(content)
        return "250 OK"


def report(totals: Totals) -> None:
    print(json.dumps(asdict(totals)), flush=True)


async def serve(host: str, port: int) -> None:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.localhost", ident="bench sink"), host, port
    )
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, report, handler.totals)
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    print("ready", flush=True)
    await stopped.wait()
    server.close()
    report(handler.totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.smtp_sink", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
