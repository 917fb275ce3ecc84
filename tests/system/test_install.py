"""`cmake --install` lays out a working hotline: binaries, channel modules, header,
example config, rules and systemd files, and an installed hotlined finds its modules in
<prefix>/lib/hotline/plugins without a `plugin_dir:` line."""
import shutil
import subprocess
from pathlib import Path

import hotline_harness as h

EXPECTED = [
    "bin/hotlined",
    "bin/hotlinectl",
    "lib/hotline/plugins/webhook.so",
    "lib/hotline/plugins/smtp.so",
    "lib/hotline/plugins/twilio.so",
    "lib/hotline/plugins/vonage.so",
    "lib/hotline/plugins/kannel.so",
    "include/hotline/channel.h",
    "share/hotline/conf/hotline.yaml",
    "share/hotline/conf/responders.yaml",
    "share/hotline/rules/detention.yaml",
    "lib/systemd/system/hotline.service",
    "lib/sysusers.d/hotline.conf",
    "lib/tmpfiles.d/hotline.conf",
    "share/man/man8/hotlined.8.gz",
    "share/man/man1/hotlinectl.1.gz",
    "share/man/man5/hotline.yaml.5.gz",
    "share/doc/hotline/operations.md",
]


def install(prefix):
    cmake = shutil.which("cmake") or "/usr/bin/cmake"
    r = subprocess.run([cmake, "--install", str(h.BUILD_DIR), "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def example_config(root):
    """The shipped example config with its secrets, as an admin would lay it out."""
    conf = root / "etc" / "conf"
    shutil.copytree(h.REPO / "conf", conf)
    secrets = root / "etc" / "var" / "secrets"
    secrets.mkdir(parents=True)
    for name in ("webhook.token", "webhook-signing.key"):
        (secrets / name).write_text("0123456789abcdef0123456789abcdef\n")
    (secrets / "storage.key").write_bytes(bytes(range(32)))
    for f in secrets.iterdir():
        f.chmod(0o600)
    secrets.chmod(0o700)
    assert "plugin_dir" not in (conf / "hotline.yaml").read_text()
    return conf / "hotline.yaml"


def check(binary, config):
    return subprocess.run([str(binary), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


def test_install_layout_and_plugin_dir(wd):
    prefix = Path(wd.path) / "prefix"
    install(prefix)
    for rel in EXPECTED:
        assert (prefix / rel).is_file(), f"not installed: {rel}"
    # The unit names the binaries where this prefix put them (the .deb's is /usr/bin).
    unit = (prefix / "lib/systemd/system/hotline.service").read_text()
    assert f"ExecStart={prefix}/bin/hotlined --config /etc/hotline/hotline.yaml" in unit
    # /etc/hotline is the package's alone: `cmake --install` never writes outside the prefix.
    assert not (prefix / "etc").exists()
    config = example_config(Path(wd.path))

    ok = check(prefix / "bin" / "hotlinectl", config)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "config OK" in ok.stdout

    # Proof that the installed modules, not the build tree's, were loaded: without them
    # the same installed binary fails, falls back to the configured install path
    # (CMAKE_INSTALL_PREFIX/lib/hotline/plugins) and never to build/plugins.
    shutil.rmtree(prefix / "lib" / "hotline" / "plugins")
    bad = check(prefix / "bin" / "hotlinectl", config)
    out = bad.stdout + bad.stderr
    assert bad.returncode == 1, out
    configured = configured_prefix() + "/lib/hotline/plugins"
    assert configured in out, out
    assert str(h.PLUGIN_DIR) not in out


def configured_prefix():
    for line in (h.BUILD_DIR / "CMakeCache.txt").read_text().splitlines():
        if line.startswith("CMAKE_INSTALL_PREFIX:"):
            return line.split("=", 1)[1]
    raise AssertionError("CMAKE_INSTALL_PREFIX not in CMakeCache.txt")
