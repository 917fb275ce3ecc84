"""The .deb from `cpack -G DEB` installs and runs on this machine without systemctl:
dpkg -i, the packaged files are where the package says, `hotlinectl check` passes on the
installed /etc/hotline/hotline.yaml (secrets as systemd credentials), the installed
hotlined (found modules: /usr/lib/hotline/plugins) takes one report from a copy of that
config with a temporary state dir and port, then dpkg -r removes it. Other tests keep
using build/ binaries; a finalizer removes the package and whatever its postinst created
that was not there before (the hotline user, /etc/hotline, /var/lib/hotline)."""
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

import hotline_harness as h

PACKAGED = [
    "./usr/bin/hotlined",
    "./usr/bin/hotlinectl",
    "./usr/lib/hotline/plugins/webhook.so",
    "./usr/lib/hotline/plugins/smtp.so",
    "./usr/lib/hotline/plugins/twilio.so",
    "./usr/lib/hotline/plugins/vonage.so",
    "./usr/lib/hotline/plugins/kannel.so",
    "./usr/include/hotline/channel.h",
    "./usr/share/hotline/conf/hotline.yaml",
    "./etc/hotline/hotline.yaml",
    "./etc/hotline/responders.yaml",
    "./usr/lib/systemd/system/hotline.service",
    "./usr/lib/sysusers.d/hotline.conf",
    "./usr/lib/tmpfiles.d/hotline.conf",
    "./usr/share/man/man8/hotlined.8.gz",
    "./usr/share/man/man1/hotlinectl.1.gz",
    "./usr/share/man/man5/hotline.yaml.5.gz",
    "./usr/share/doc/hotline/operations.md",
]


def run(*argv, timeout=300, env=None, check=True):
    cp = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                        timeout=timeout, env=env)
    if check:
        assert cp.returncode == 0, f"{argv}: rc={cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def installed():
    cp = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "hotline"],
                        capture_output=True, text=True)
    return "install ok installed" in cp.stdout


def known_to_dpkg():
    return subprocess.run(["dpkg-query", "-W", "hotline"], capture_output=True).returncode == 0


@pytest.fixture
def deb_host():
    if os.geteuid() != 0 or shutil.which("dpkg") is None or shutil.which("cpack") is None:
        pytest.skip("needs root, dpkg and cpack (Debian test machine)")
    if installed():
        pytest.skip("a hotline package is installed already; not touching it")
    before = {
        "user": _user_exists("hotline"),
        "/etc/hotline": os.path.exists("/etc/hotline"),
        "/var/lib/hotline": os.path.exists("/var/lib/hotline"),
    }
    yield
    # Purge whatever state it is in (installed, or removed with its conffiles kept).
    if known_to_dpkg():
        subprocess.run(["dpkg", "--purge", "hotline"], capture_output=True, timeout=120)
    if not before["/var/lib/hotline"]:
        shutil.rmtree("/var/lib/hotline", ignore_errors=True)
    if not before["/etc/hotline"]:
        shutil.rmtree("/etc/hotline", ignore_errors=True)
    if not before["user"] and _user_exists("hotline"):
        subprocess.run(["userdel", "hotline"], capture_output=True, timeout=60)


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_deb_installs_checks_runs_and_removes(wd, deb_host, http_sink):
    out_dir = wd.path / "pkg"
    out_dir.mkdir()
    run("cpack", "-G", "DEB", "--config", h.BUILD_DIR / "CPackConfig.cmake", "-B", out_dir)
    debs = sorted(out_dir.glob("hotline_*.deb"))
    assert len(debs) == 1, list(out_dir.iterdir())
    deb = debs[0]
    listing = run("dpkg-deb", "-c", deb).stdout
    paths = {line.split()[-1] for line in listing.splitlines()}
    missing = [p for p in PACKAGED if p not in paths]
    assert not missing, f"not in the package: {missing}"
    control = run("dpkg-deb", "-I", deb).stdout
    depends = next(line for line in control.splitlines() if line.strip().startswith("Depends:"))
    # libcurl3-gnutls: libcurl's GnuTLS build (scripts/setup: libetpan-dev needs it).
    for lib in ("libsqlite3-0", "libsodium23", "libcurl3-gnutls", "libetpan20", "libyaml-cpp", "libre2"):
        assert lib in depends, depends  # from dpkg-shlibdeps
    conffiles = run("dpkg-deb", "-I", deb, "conffiles").stdout
    assert "/etc/hotline/hotline.yaml" in conffiles

    run("dpkg", "-i", deb)
    assert installed()
    for p in PACKAGED:
        assert Path(p[1:]).exists(), p
    # postinst: the service user and its directories.
    assert _user_exists("hotline")
    st = os.stat("/var/lib/hotline")
    assert st.st_mode & 0o777 == 0o700 and st.st_uid == pwd.getpwnam("hotline").pw_uid
    assert os.stat("/etc/hotline/secrets").st_mode & 0o777 == 0o700
    unit = Path("/usr/lib/systemd/system/hotline.service").read_text()
    assert "ExecStart=/usr/bin/hotlined --config /etc/hotline/hotline.yaml" in unit
    if shutil.which("man"):
        assert run("man", "-w", "hotlined").stdout.strip().endswith("hotlined.8.gz")

    # Secrets the way systemd hands them over (LoadCredential= -> $CREDENTIALS_DIRECTORY).
    creds = wd.path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "webhook.token").write_text(h.TOKEN + "\n")
    (creds / "webhook-signing.key").write_text(h.SIGNING_KEY + "\n")
    key = h.new_key_file(creds / "storage.key")
    for f in creds.iterdir():
        f.chmod(0o600)
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
    ok = run("/usr/bin/hotlinectl", "check", "--config", "/etc/hotline/hotline.yaml", env=env)
    assert "config OK" in ok.stdout
    ok = run("/usr/bin/hotlined", "--check", "--config", "/etc/hotline/hotline.yaml", env=env)
    assert "config OK" in ok.stdout

    # The installed daemon on a copy of the installed config: a free port and a temporary
    # state dir instead of 8080 and /var/lib/hotline, everything else as packaged.
    etc = wd.path / "etc-hotline"
    shutil.copytree("/etc/hotline", etc)
    cfg = yaml.safe_load((etc / "hotline.yaml").read_text())
    assert "plugin_dir" not in cfg
    assert cfg["storage"]["path"] == "/var/lib/hotline/hotline.db"
    port = h.free_port()
    cfg["server"]["port"] = port
    cfg["storage"]["path"] = str(wd.path / "state" / "hotline.db")
    (etc / "hotline.yaml").write_text(h.dump_yaml(cfg))
    proc = wd.spawn(["/usr/bin/hotlined", "--config", etc / "hotline.yaml"],
                    "installed-hotlined.log", env=env)

    def ready():
        assert proc.alive(), (wd.path / "installed-hotlined.log").read_text()
        try:
            return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    h.wait_until(ready, what="the installed hotlined")
    body = h.report(text="Packaged daemon test report")
    r = requests.post(f"http://127.0.0.1:{port}/v1/reports", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {h.TOKEN}"})
    assert r.status_code == 202, r.text
    report_id = r.json()["report_id"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    conn = sqlite3.connect(f"file:{wd.path / 'state' / 'hotline.db'}?mode=ro", uri=True)
    try:
        sealed = conn.execute("SELECT text FROM reports WHERE id = ?", (report_id,)).fetchone()[0]
    finally:
        conn.close()
    assert h.open_sealed(key, sealed, f"reports.text:{report_id}") == body["text"]
    log = (wd.path / "installed-hotlined.log").read_text()
    assert "/usr/lib/hotline/plugins" in log or "ready" in log
    assert str(h.BUILD_DIR) not in log

    run("dpkg", "-r", "hotline")
    assert not installed()
    # Removed, not purged: the admin's /etc/hotline edits stay until a purge.
    assert Path("/etc/hotline/hotline.yaml").exists()
    assert not Path("/usr/bin/hotlined").exists()
    assert not Path("/usr/lib/hotline/plugins/webhook.so").exists()
    # The build tree's binaries are untouched.
    assert h.HOTLINED.exists() and h.HOTLINECTL.exists()
