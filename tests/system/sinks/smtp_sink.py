#!/usr/bin/python3
"""A storing SMTP sink (aiosmtpd) for the system tests.

Usage: smtp_sink.py OUT_DIR PORT_FILE [--reject ADDR]... [--tempfail ADDR]...

Each accepted message is stored as OUT_DIR/NNN.eml (raw bytes) and OUT_DIR/NNN.json
({"mail_from", "rcpt_tos", "time"}); the .json is written last (atomically), so a
reader that sees it can read the .eml. RCPT TO an address given with --reject is
answered 550, with --tempfail 451 (compared case-insensitively).
"""
import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import time

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, out_dir, reject, tempfail):
        self.out_dir = out_dir
        self.reject = {a.lower() for a in reject}
        self.tempfail = {a.lower() for a in tempfail}
        self.seq = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.tempfail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        i = next(self.seq)
        base = os.path.join(self.out_dir, f"{i:04d}")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogateescape")
        with open(base + ".eml", "wb") as f:
            f.write(data)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "time": time.time()}
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 OK queued"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("port_file")
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--tempfail", action="append", default=[])
    a = ap.parse_args()
    handler = Store(a.out_dir, a.reject, a.tempfail)
    last = None
    for _ in range(20):  # the port picked may be taken by the time we bind: try again
        port = free_port()
        c = Controller(handler, hostname="127.0.0.1", port=port,
                       enable_SMTPUTF8=True, decode_data=False)
        try:
            c.start()
            break
        except Exception as e:  # noqa: BLE001 - report the last one
            last = e
            c = None
    if c is None:
        raise SystemExit(f"smtp sink: cannot bind: {last}")
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, a.port_file)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    c.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
