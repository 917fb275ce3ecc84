"""hotlinectl test-rules on the shipped rapid-response example (rules/examples/rapid-response):
every test passes (exit 0); a copy with one expectation changed fails (exit 1) with a diff
that names the field; a malformed test is a config error for check (exit 1) and test-rules
(exit 2); `hotlinectl check` accepts the example with only the storage key that scripts/run
makes. Nothing printed names a contact address."""
import json
import os
import shutil
import subprocess

import hotline_harness as h

EXAMPLE = h.REPO / "rules" / "examples" / "rapid-response"


def ctl(*args, env=None):
    h.require(h.HOTLINECTL)
    cp = subprocess.run([str(h.HOTLINECTL), *map(str, args)], capture_output=True, timeout=60,
                        env=env)
    out, err = h.decoded(cp)
    return cp.returncode, out, err


def copy_example(tmp_path):
    # Three folders deep, like rules/examples/rapid-response, so its ../../../var/secrets
    # stays inside tmp_path.
    dest = tmp_path / "a" / "b" / "rapid-response"
    shutil.copytree(EXAMPLE, dest)
    return dest


def test_example_passes():
    code, out, err = ctl("test-rules", "--config", EXAMPLE / "hotline.yaml")
    assert code == 0, (out, err)
    lines = out.splitlines()
    assert lines[-1].endswith(" passed, 0 failed"), out
    passed = [line for line in lines if line.startswith("PASS ")]
    assert len(passed) >= 8, out
    assert not any(line.startswith("FAIL ") for line in lines), out
    assert "PASS a detention at night pages the on-call person of the week  " in out
    assert "rapid-response.yaml:" in out
    assert "@" not in out, "an address leaked"

    code, out, err = ctl("test-rules", "--config", EXAMPLE / "hotline.yaml", "--json")
    assert code == 0, (out, err)
    doc = json.loads(out)
    assert doc["failed"] == 0 and doc["passed"] == len(doc["tests"])
    assert all(t["passed"] and t["file"].endswith("rapid-response.yaml") for t in doc["tests"])


def test_changed_expectation_fails_with_a_diff(tmp_path):
    dest = copy_example(tmp_path)
    rules = dest / "rules" / "rapid-response.yaml"
    text = rules.read_text()
    # The first test: taras is on call that Tuesday night, not maria.
    old = "      targets: [responder:taras]\n      muted: false\n"
    assert text.count(old) == 1
    rules.write_text(text.replace(old, "      targets: [responder:maria]\n      muted: false\n"))
    code, out, err = ctl("test-rules", "--config", dest / "hotline.yaml")
    assert code == 1, (out, err)
    assert "FAIL a detention at night pages the on-call person of the week  " in out
    failed = out[out.index("FAIL "):]
    assert failed.split("\n")[1:5] == [
        "    targets:",
        "      expected: [responder:maria]",
        "      got:      [responder:taras]",
        "      (missing responder:maria; unexpected responder:taras)",
    ], out
    assert out.splitlines()[-1].endswith(" failed") and " 1 failed" in out.splitlines()[-1]
    assert "PASS the hand-off is Monday 09:00 Kyiv time" in out

    doc = json.loads(ctl("test-rules", "--config", dest / "hotline.yaml", "--json")[1])
    bad = [t for t in doc["tests"] if not t["passed"]]
    assert len(bad) == 1 and [m["field"] for m in bad[0]["mismatches"]] == ["targets"]


def test_malformed_test_is_a_config_error(tmp_path):
    dest = copy_example(tmp_path)
    rules = dest / "rules" / "rapid-response.yaml"
    text = rules.read_text()
    rules.write_text(text.replace("      severity: critical\n      policy: rapid-response\n"
                                  "      targets: [responder:taras]",
                                  "      severity: critical\n      polcy: rapid-response\n"
                                  "      targets: [responder:taras]", 1))
    code, out, err = ctl("test-rules", "--config", dest / "hotline.yaml")
    assert code == 2, (out, err)
    assert "rapid-response.yaml:" in err
    assert "tests[0].expect.polcy: unknown key; did you mean \"policy\"?" in err
    code, out, err = ctl("check", "--config", dest / "hotline.yaml")
    assert code == 1, (out, err)
    assert "tests[0].expect.polcy: unknown key" in err


def test_usage_errors():
    code, _, err = ctl("test-rules", "--config", EXAMPLE / "hotline.yaml", "extra")
    assert code == 2 and "usage: test-rules" in err
    code, _, err = ctl("test-rules", "--config", "/nonexistent/hotline.yaml")
    assert code == 2 and "/nonexistent/hotline.yaml" in err


def test_check_accepts_the_example(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    key = creds / "storage.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
    code, out, err = ctl("check", "--config", EXAMPLE / "hotline.yaml", env=env)
    assert code == 0, (out, err)
    assert out.startswith("config OK"), out
