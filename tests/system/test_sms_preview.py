"""hotlinectl sms-preview: encoding, units, segments and the parts exactly as an SMS channel
would send them (dispatch/sms_text), no daemon and no configuration."""
import re

import hotline_harness as h


def preview(*args, stdin=None):
    cp = h.run_ctl("sms-preview", *args, input=stdin)
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    return out


def fields(out):
    return dict(re.findall(r"^(encoding|septets|units|segments): (\S+)$", out, re.M))


def parts(out):
    """The parts between the '--- part i/n: ... ---' headers and '--- end ---'."""
    body = out.split("\n--- end ---\n")[0]
    chunks = re.split(r"^--- part \d+/\d+: \d+ [A-Za-z0-9 -]+ ---\n", body, flags=re.M)
    return [c[:-1] if c.endswith("\n") else c for c in chunks[1:]]


def test_english_fits_one_gsm7_sms():
    out = preview("Detained near the metro, need a lawyer")
    assert fields(out) == {"encoding": "gsm7", "septets": "38", "segments": "1"}
    assert parts(out) == ["Detained near the metro, need a lawyer"]


def test_russian_is_ucs2_and_splits_at_67_units():
    text = "Задержан у метро, нужен адвокат. " * 3  # 99 UTF-16 units
    out = preview(text)
    assert fields(out) == {"encoding": "ucs2", "units": str(len(text)), "segments": "2"}
    p = parts(out)
    assert len(p) == 2 and len(p[0]) == 67 and "".join(p) == text
    assert "--- part 1/2: 67 UTF-16 units ---" in out


def test_extension_characters_cost_two_septets_and_are_not_split():
    text = "a" * 152 + "{" + "b" * 10
    out = preview(text)
    assert fields(out) == {"encoding": "gsm7", "septets": "164", "segments": "2"}
    assert parts(out) == ["a" * 152, "{" + "b" * 10]
    assert fields(preview("price 5€ [net] ~ok^"))["septets"] == str(19 + 5)


def test_emoji_is_a_surrogate_pair_never_split():
    text = "д" * 66 + "😀" + "д" * 10
    out = preview(text)
    assert fields(out) == {"encoding": "ucs2", "units": "78", "segments": "2"}
    assert parts(out) == ["д" * 66, "😀" + "д" * 10]


def test_max_segments_shortens_with_an_ellipsis():
    text = "Обыск в офисе, забрали компьютеры и телефоны. " * 10
    out = preview("--max-segments", "2", text)
    assert fields(out) == {"encoding": "ucs2", "units": "134", "segments": "2"}
    assert "shortened from 7 segments" in out
    joined = "".join(parts(out))
    assert joined.endswith("…") and text.startswith(joined[:-1].rstrip())
    # English stays GSM-7: the ellipsis is "..." there, never "…".
    out = preview("--max-segments", "1", "x" * 500)
    assert fields(out) == {"encoding": "gsm7", "septets": "160", "segments": "1"}
    assert parts(out) == ["x" * 157 + "..."]
    assert "fits as it is" in preview("--max-segments", "3", "short")


def test_transliterate_turns_russian_into_gsm7_latin():
    out = preview("--transliterate", "Задержан у метро")
    assert "original: ucs2, 16 UTF-16 units, 1 segment" in out
    assert fields(out) == {"encoding": "gsm7", "septets": "17", "segments": "1"}
    assert parts(out) == ["Zaderzhan u metro"]


def test_text_from_stdin():
    out = preview("-", stdin="Hello from stdin\n".encode())
    assert parts(out) == ["Hello from stdin"]


def test_bad_usage_exits_2():
    for args in (["sms-preview"], ["sms-preview", "--max-segments", "0", "x"],
                 ["sms-preview", "--max-segments", "11", "x"], ["sms-preview", "a", "b"]):
        cp = h.run_ctl(*args)
        assert cp.returncode == 2, args
