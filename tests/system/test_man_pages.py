"""The man pages (docs/man, plain man(7) troff) render without warnings and agree with
--help: every option and command --help lists is in the page, and every option the page
documents is one --help lists."""
import re
import shutil
import subprocess

import pytest

import hotline_harness as h

MAN = h.REPO / "docs" / "man"


def help_text(binary):
    h.require(binary)
    cp = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def long_options(text):
    return set(re.findall(r"--([a-z][a-z-]*)", text))


def page_text(name):
    # Unescape the troff hyphens and font switches the options are written with.
    raw = (MAN / name).read_text(encoding="utf-8")
    return re.sub(r"\\f[BIRP]", "", raw.replace("\\-", "-"))


@pytest.mark.parametrize("page", ["hotlined.8", "hotlinectl.1", "hotline.yaml.5"])
def test_page_renders_without_warnings(page):
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed")
    cp = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(MAN / page)],
                        capture_output=True, text=True, timeout=30,
                        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr


@pytest.mark.parametrize("binary,page", [(h.HOTLINED, "hotlined.8"),
                                         (h.HOTLINECTL, "hotlinectl.1")])
def test_options_agree_with_help(binary, page):
    usage = help_text(binary)
    text = page_text(page)
    in_help = long_options(usage)
    # Every --help option anywhere in the page; the OPTIONS section documents no other
    # (elsewhere the page may cite another command's option).
    in_page = long_options(text.split(".SH OPTIONS")[1].split("\n.SH ")[0])
    assert not (in_help - long_options(text)), f"{page} lacks {sorted(in_help - long_options(text))}"
    assert in_help, usage
    assert not (in_help - in_page), f"{page} lacks {sorted(in_help - in_page)}"
    assert not (in_page - in_help), f"{page} documents unknown {sorted(in_page - in_help)}"


def test_hotlinectl_commands_agree_with_help():
    usage = help_text(h.HOTLINECTL)
    commands = set(re.findall(r"^  ([a-z][a-z-]+) ", usage.split("Options")[0], re.M))
    assert {"check", "route", "send-test", "rekey", "backup", "ingest"} <= commands, commands
    text = page_text("hotlinectl.1")
    section = text.split(".SH COMMANDS")[1].split(".SH OPTIONS")[0]
    in_page = set(re.findall(r"^\.TP\n\.BR ([a-z][a-z-]+) ", section, re.M))
    assert commands == in_page, (commands, in_page)
