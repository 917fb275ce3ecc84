"""systemd/hotline.service stays hardened: `systemd-analyze security --offline=yes
--threshold=20` (exposure 2.0, systemd 252's scale times ten) must pass, and the score
docs/operations.md records must be the one systemd-analyze gives."""
import re
import shutil
import subprocess

import pytest

import hotline_harness as h

UNIT = h.REPO / "systemd" / "hotline.service"


def analyze(*extra):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run([tool, "security", "--offline=yes", *extra, str(UNIT)],
                          capture_output=True, text=True, timeout=60)


def test_unit_scores_at_most_2_0():
    cp = analyze("--threshold=20")
    out = cp.stdout + cp.stderr
    m = re.search(r"Overall exposure level for hotline\.service: (\d+\.\d)", out)
    assert m, out[-2000:]
    score = float(m.group(1))
    assert cp.returncode == 0, f"exposure {score} is above 2.0:\n{out[-3000:]}"
    assert score <= 2.0
    ops = (h.REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"exposure level **{m.group(1)}**" in ops, \
        f"docs/operations.md does not record the score {m.group(1)}"


def test_threshold_fails_a_weaker_unit(tmp_path):
    """The threshold is live: the same check fails for a unit without the hardening."""
    weak = tmp_path / "hotline.service"
    text = UNIT.read_text(encoding="utf-8")
    weak.write_text(text.split("# Hardening")[0], encoding="utf-8")
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    cp = subprocess.run([tool, "security", "--offline=yes", "--threshold=20", str(weak)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0, cp.stdout[-2000:]


def test_unit_keeps_what_the_daemon_needs():
    text = UNIT.read_text(encoding="utf-8")
    for line in ("Type=notify", "StateDirectory=hotline", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "LoadCredential=storage.key:/etc/hotline/secrets/storage.key",
                 "ExecStart=/usr/bin/hotlined --config /etc/hotline/hotline.yaml"):
        assert line in text.splitlines(), f"missing: {line}"
