#!/usr/bin/python3
"""Writes the .eml fixtures of tests/unit/ingest_mime_test.cpp, byte-exact, with Python's
codecs (not hotline's) doing every charset, base64, quoted-printable and hash, and prints
the attachments' sizes and SHA-256 for the test to check. Run it again only to change a
fixture: the files are checked in, and the test compares against the printed values."""
import base64
import hashlib
import quopri
import random
import sys
from email.header import Header
from pathlib import Path

HERE = Path(__file__).resolve().parent


def b_word(text, charset):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode())


def q_word(text, charset):
    raw = text.encode(charset)
    out = "".join(
        chr(c) if (chr(c).isalnum() and c < 128) else ("_" if c == 32 else "=%02X" % c)
        for c in raw
    )
    return "=?%s?Q?%s?=" % (charset, out)


def write(name, headers, body, crlf=True):
    """headers: list of str (ASCII) or bytes; body: bytes."""
    nl = b"\r\n" if crlf else b"\n"
    out = b""
    for h in headers:
        out += (h if isinstance(h, bytes) else h.encode("ascii")).replace(b"\n", nl) + nl
    out += nl
    if crlf:
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out += body
    (HERE / name).write_bytes(out)


def wrap64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i : i + 76] for i in range(0, len(s), 76)) + "\n"


RU = "Здравствуйте! Мне угрожают по телефону, пожалуйста помогите."
UK = "Добрий день! Мені погрожують телефоном, будь ласка, допоможіть. Їжак ґанок є."
COMMON = [
    "From: =?utf-8?B?%s?= <ivan@example.org>" % base64.b64encode("Иван Петров".encode()).decode(),
    "To: hotline@example.net",
    "Date: Tue, 01 Dec 2026 21:00:00 +0300",
    "MIME-Version: 1.0",
]

# 1. UTF-8, raw UTF-8 subject per RFC 6532, threading headers.
write(
    "utf8.eml",
    [
        b"From: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd <ivan@example.org>",
        "To: hotline@example.net",
        b"Subject: " + "Угроза".encode(),
        "Date: Tue, 01 Dec 2026 21:00:00 +0300",
        "Message-ID: <utf8-1@example.org>",
        "In-Reply-To: <case-7@hotline.example.net>",
        "References: <case-7@hotline.example.net>\n <reply-2@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ],
    (RU + "\n").encode(),
)

# 2. KOI8-R 8bit body, KOI8-R encoded-word headers.
write(
    "koi8r_8bit.eml",
    [
        "From: %s <olga@example.org>" % q_word("Ольга", "koi8-r"),
        "To: hotline@example.net",
        "Subject: %s" % b_word("Обыск в офисе", "koi8-r"),
        "Date: Tue, 01 Dec 2026 10:00:00 +0000",
        "Message-ID: <koi8r@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=koi8-r",
        "Content-Transfer-Encoding: 8bit",
    ],
    ("Сегодня утром к нам пришли с обыском.\nЗабрали ноутбуки и телефоны.\n").encode("koi8-r"),
)

# 3. windows-1251 quoted-printable.
write(
    "cp1251_qp.eml",
    COMMON
    + [
        "Subject: %s" % q_word("Задержание", "windows-1251"),
        "Message-ID: <cp1251@example.org>",
        "Content-Type: text/plain; charset=windows-1251",
        "Content-Transfer-Encoding: quoted-printable",
    ],
    quopri.encodestring(("Вчера задержали нашего коллегу у здания суда.\n").encode("cp1251")),
)

# 4. ISO-8859-5 base64.
write(
    "iso88595_base64.eml",
    COMMON
    + [
        "Subject: %s" % b_word("Слежка", "iso-8859-5"),
        "Message-ID: <iso88595@example.org>",
        "Content-Type: text/plain; charset=iso-8859-5",
        "Content-Transfer-Encoding: base64",
    ],
    wrap64("За мной следят уже третий день, машина стоит у подъезда.\n".encode("iso-8859-5")).encode(),
)

# 5. A subject mixing five charsets over three folds; the UTF-8 word is split inside a
# character across two encoded words.
utf8_bytes = "Срочно".encode()
split = 3  # inside the second character (2 bytes each)
w1 = "=?utf-8?B?%s?=" % base64.b64encode(utf8_bytes[:split]).decode()
w2 = "=?utf-8?B?%s?=" % base64.b64encode(utf8_bytes[split:]).decode()
write(
    "subject_five_charsets.eml",
    COMMON
    + [
        "Subject: %s%s %s\n %s\n %s %s"
        % (
            w1,
            w2,
            b_word(" угроза ", "koi8-r"),
            q_word("от ", "windows-1251"),
            b_word("полиции ", "iso-8859-5"),
            q_word("café", "iso-8859-1"),
        ),
        "Message-ID: <five@example.org>",
        "Content-Type: text/plain; charset=us-ascii",
    ],
    b"See subject.\n",
)

# 6. HTML only.
html = (
    "<!DOCTYPE html><html><head><title>t</title><style>p{color:red}</style>"
    "<script>alert('x')</script></head><body><!-- a comment -->"
    "<h1>Нападение</h1><p>Вчера&nbsp;на&nbsp;нас напали &laquo;неизвестные&raquo; &amp; "
    "угрожали.</p><div>Адрес:<br>ул. Ленина, 5</div><ul><li>первое</li><li>второе</li></ul>"
    "<p>   много     пробелов   </p></body></html>"
)
write(
    "html_only.eml",
    COMMON
    + [
        "Subject: HTML",
        "Message-ID: <html@example.org>",
        "Content-Type: text/html; charset=windows-1251",
        "Content-Transfer-Encoding: quoted-printable",
    ],
    quopri.encodestring(html.encode("cp1251")),
)

# 7. JPEG + PDF attachments with RFC 2231 Cyrillic names (continuations) and an RFC 2047 name.
rng = random.Random(8)
jpeg = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(rng.randrange(256) for _ in range(3000)) + bytes([0xFF, 0xD9])
pdf = b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(5000)) + b"\n%%EOF\n"
jpeg_name = "фото_угрозы_у_подъезда.jpg"
pdf_name = "Повестка в суд.pdf"
enc = "".join("%%%02X" % c if not (chr(c).isalnum() and c < 128) and chr(c) not in "._" else chr(c) for c in jpeg_name.encode())
# Split between escapes (RFC 2231 forbids splitting one), but inside UTF-8 characters.
tokens = []
i = 0
while i < len(enc):
    n = 3 if enc[i] == "%" else 1
    tokens.append(enc[i : i + n])
    i += n
parts = ["".join(tokens[:10]), "".join(tokens[10:23]), "".join(tokens[23:])]
boundary = "----=_Part_1_2231"
body = (
    "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    "Фото и повестка во вложении.\n"
    "--%s\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment;\n filename*0*=utf-8''%s;\n filename*1*=%s;\n filename*2*=%s\n\n%s"
    "--%s\nContent-Type: application/pdf; name=\"%s\"\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"%s\"\n\n%s"
    "--%s--\n"
) % (
    boundary, boundary, parts[0], parts[1], parts[2], wrap64(jpeg), boundary,
    b_word(pdf_name, "windows-1251"), b_word(pdf_name, "windows-1251"), wrap64(pdf), boundary,
)
write(
    "attachments.eml",
    COMMON
    + [
        "Subject: Attachments",
        "Message-ID: <att@example.org>",
        'Content-Type: multipart/mixed; boundary="%s"' % boundary,
    ],
    body.encode(),
)

# 8/9. Forward as attachment and inline.
inner = (
    "From: =?koi8-r?B?%s?= <threat@example.com>\nSubject: %s\nDate: Mon, 30 Nov 2026 08:00:00 +0300\n"
    "Message-ID: <inner@example.com>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=koi8-r\n"
    "Content-Transfer-Encoding: 8bit\n\n"
) % (base64.b64encode("Аноним".encode("koi8-r")).decode(), b_word("Последнее предупреждение", "koi8-r"))
inner_bytes = inner.encode() + "Мы знаем, где ты живёшь.\n".encode("koi8-r")
for name, disp in (("forward_attached.eml", "attachment; filename=\"threat.eml\""), ("forward_inline.eml", "inline")):
    b = "fwd-boundary-%s" % name[8:11]
    body = (
        ("--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
         "Пересылаю угрозу, которую получил вчера.\n"
         "--%s\nContent-Type: message/rfc822\nContent-Disposition: %s\n\n") % (b, b, disp)
    ).encode() + inner_bytes + ("--%s--\n" % b).encode()
    write(
        name,
        COMMON
        + ["Subject: Fwd: threat", "Message-ID: <%s@example.org>" % name[:-4],
           'Content-Type: multipart/mixed; boundary="%s"' % b],
        body,
    )

# 10. No Message-ID, no Date.
write(
    "no_message_id.eml",
    ["From: anon@example.org", "To: hotline@example.net", "Subject: no id",
     "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"],
    b"Plain message without a Message-ID.\n",
)

# 11. Wrong labels: us-ascii on UTF-8; us-ascii on windows-1251; no label on KOI8-R.
write(
    "wrong_charset_utf8.eml",
    COMMON + ["Subject: wrong label", "Message-ID: <wrong1@example.org>",
              "Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 8bit"],
    (RU + "\n").encode(),
)
write(
    "wrong_charset_cp1251.eml",
    COMMON + ["Subject: wrong label", "Message-ID: <wrong2@example.org>",
              "Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 8bit"],
    ("Нас преследуют после публикации статьи о коррупции в администрации города. "
     "Пожалуйста, помогите нам связаться с адвокатом.\n").encode("cp1251"),
)
write(
    "undeclared_koi8r.eml",
    [b"From: " + "Пётр".encode("koi8-r") + b" <petr@example.org>", "To: hotline@example.net",
     b"Subject: " + "Угрозы в сети".encode("koi8-r"), "Message-ID: <undecl@example.org>",
     "MIME-Version: 1.0", "Content-Type: text/plain", "Content-Transfer-Encoding: 8bit"],
    ("Мне пишут угрозы в социальных сетях каждый день, уже вторую неделю. "
     "Я боюсь выходить из дома.\n").encode("koi8-r"),
)

# 12. Truncated multipart: no closing boundary, base64 cut mid-group.
b = "trunc-boundary"
cut = wrap64(pdf)[:301]
write(
    "truncated_multipart.eml",
    COMMON + ["Subject: truncated", "Message-ID: <trunc@example.org>",
              'Content-Type: multipart/mixed; boundary="%s"' % b],
    (("--%s\nContent-Type: text/plain; charset=utf-8\n\nТекст до обрыва.\n"
     "--%s\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
     "Content-Disposition: attachment; filename=\"cut.pdf\"\n\n%s") % (b, b, cut)).encode(),
)

# 13. A 200 KiB single line.
write(
    "long_line.eml",
    COMMON + ["Subject: long line", "Message-ID: <long@example.org>",
              "Content-Type: text/plain; charset=utf-8"],
    ("Начало " + "x" * (200 * 1024) + " конец\n").encode(),
)

# 14. Bare LF line ends everywhere.
write(
    "bare_lf.eml",
    COMMON + ["Subject: bare LF", "Message-ID: <lf@example.org>",
              "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"],
    "Первая строка\nВторая строка\n".encode(),
    crlf=False,
)

# 15. An oversized mail (the test lowers max_message_bytes to 4096).
write(
    "oversized.eml",
    COMMON + ["Subject: %s" % b_word("Большое письмо", "utf-8"), "Message-ID: <big@example.org>",
              "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"],
    wrap64(bytes(rng.randrange(256) for _ in range(8192))).encode(),
)

# 16. CP866 and KOI8-U.
write(
    "cp866.eml",
    COMMON + ["Subject: %s" % b_word("Старый клиент", "cp866"), "Message-ID: <cp866@example.org>",
              "Content-Type: text/plain; charset=cp866", "Content-Transfer-Encoding: 8bit"],
    "Пишу из старой почтовой программы под DOS.\n".encode("cp866"),
)
write(
    "koi8u.eml",
    COMMON + ["Subject: %s" % b_word("Погрози", "koi8-u"), "Message-ID: <koi8u@example.org>",
              "Content-Type: text/plain; charset=koi8-u", "Content-Transfer-Encoding: 8bit"],
    (UK + "\n").encode("koi8-u"),
)

for label, data in (("jpeg", jpeg), ("pdf", pdf), ("inner", inner_bytes.replace(b"\n", b"\r\n"))):
    print(label, len(data), hashlib.sha256(data).hexdigest())
