"""Faults for the system tests: the LD_PRELOAD shim of tests/faults/ and a systemd notify
socket (what systemd gives a Type=notify service)."""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import hotline_harness as h

SHIM = h.BUILD_DIR / "libhotline_faults.so"

# systemd sets WATCHDOG_PID to the service's pid, which is known only once it runs: a shell
# exports its own pid ($$) and execs hotlined, which keeps it.
WATCHDOG_PID_WRAPPER = ("/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh")


class FaultShim:
    """libhotline_faults.so for one daemon: faults on the files under `directory` (the
    store's folder), switched at run time with set()."""

    def __init__(self, wd, directory):
        self.ctl = wd.path / "faults.ctl"
        self.directory = Path(os.path.realpath(directory))
        self.shadow = wd.path / "shadow"
        self.shadow.mkdir(exist_ok=True)
        self.set("none")

    def env(self):
        h.require(SHIM)
        return {"LD_PRELOAD": str(SHIM), "HOTLINE_FAULTS_CTL": str(self.ctl),
                "HOTLINE_FAULTS_PREFIX": f"{self.directory}/",
                "HOTLINE_FAULTS_SHADOW": str(self.shadow)}

    def set(self, *words):
        """Replaces the control words (tests/faults/README.md), atomically."""
        tmp = self.ctl.with_name(self.ctl.name + ".tmp")
        tmp.write_text(" ".join(words) + "\n")
        os.replace(tmp, self.ctl)

    def power_cut(self):
        """Leaves in the store's folder what a power cut would have: every file whose
        directory entry was synced, with the contents of its last sync (empty if it was
        never synced), and nothing else. Call with the daemon dead."""
        for f in self.directory.iterdir():
            if f.is_file():
                f.unlink()
        kept = []
        for marker in sorted(self.shadow.glob("*.linked")):
            name = marker.name[:-len(".linked")]
            synced = self.shadow / name
            target = self.directory / name
            if synced.exists():
                shutil.copyfile(synced, target)
            else:
                target.write_bytes(b"")
            os.chmod(target, 0o600)
            kept.append((name, target.stat().st_size))
        return kept


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET. Records every
    message as (monotonic time, {VAR: value}); on_message(fields) runs in the receiving
    thread as each arrives."""

    def __init__(self, wd, on_message=None):
        self.path = wd.path / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.1)
        self.on_message = on_message
        self.messages = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            fields = dict(line.split("=", 1) for line in data.decode().splitlines()
                          if "=" in line)
            if self.on_message is not None:
                self.on_message(fields)
            with self.lock:
                self.messages.append((now, fields))

    def env(self, watchdog_usec=None):
        e = {"NOTIFY_SOCKET": str(self.path)}
        if watchdog_usec is not None:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        return e

    def times(self, var, value="1", after=0.0):
        with self.lock:
            return [t for t, f in self.messages if f.get(var) == value and t > after]

    def wait_for(self, var, value="1", after=0.0, count=1, timeout=h.DEFAULT_TIMEOUT):
        """Waits for `count` messages setting VAR=value after monotonic time `after`;
        returns their times."""
        def seen():
            got = self.times(var, value, after)
            return got if len(got) >= count else None
        return h.wait_until(seen, timeout=timeout, interval=0.02,
                            what=f"{count} {var}={value} on the notify socket")

    def close(self):
        self.closed.set()
        self.sock.close()
        self.thread.join(2)
