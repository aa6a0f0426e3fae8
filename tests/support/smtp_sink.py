#!/usr/bin/env python3
"""A local SMTP sink for the alert tests and the demo: an aiosmtpd server that saves each received message.

    python tests/support/smtp_sink.py --port P --dir D [--host 127.0.0.1] [--auth USER:PASSWORD]

Every accepted message is written to D as `<nanoseconds>-<sequence>.eml` (names sort in arrival order), holding
the raw RFC 5322 text exactly as received; it is written to a hidden temporary file, fsynced, then renamed, so a
reader never sees half a message. `--port 0` picks a free port. When the socket is bound the script prints
`listening on HOST:PORT` (the real port) on stdout and flushes it; readers wait for that line.

Test hooks, so a client's handling of SMTP replies can be tested against a real server:
  * a recipient whose local part starts with `fail4xx` is refused with `450 4.2.1 Mailbox busy, try later`;
  * a recipient whose local part starts with `fail5xx` is refused with `550 5.1.1 No such user`.
With `--auth USER:PASSWORD` the server offers AUTH PLAIN/LOGIN (also without TLS, as this is a local test server)
and requires it before MAIL.

The process runs until it receives SIGTERM or SIGINT.
"""

import argparse
import asyncio
import itertools
import logging
import os
import signal
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class SaveToDir:
    """aiosmtpd handler: refuses the hook recipients, saves accepted messages to a folder."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("fail4xx"):
            return "450 4.2.1 Mailbox busy, try later"
        if local.startswith("fail5xx"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns():020d}-{next(self.counter):06d}.eml"
        temp = os.path.join(self.folder, f".{name}.tmp")
        with open(temp, "wb") as out:
            out.write(envelope.original_content or b"")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, os.path.join(self.folder, name))
        return "250 OK: saved as " + name


def make_authenticator(user: str, password: str):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd itself answers a failure with 535 5.7.8.
        return AuthResult(success=ok, handled=False)

    return authenticate


async def serve(host: str, port: int, folder: str, auth: str | None) -> None:
    # AUTH without TLS is deliberate here (a local test server); keep stderr for real problems.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    handler = SaveToDir(folder)
    options = {"decode_data": False, "enable_SMTPUTF8": True}
    if auth:
        user, _, password = auth.partition(":")
        options.update(
            authenticator=make_authenticator(user, password), auth_required=True, auth_require_tls=False
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), host=host, port=port)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {host}:{bound}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="folder receiving one .eml file per message")
    parser.add_argument("--auth", help="USER:PASSWORD to require AUTH PLAIN/LOGIN")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    asyncio.run(serve(args.host, args.port, args.dir, args.auth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
