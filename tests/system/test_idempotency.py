"""Each (source, external_id) is ingested once; a repeat answers success and sends nothing."""
import threading
import time

import requests

import hotline_harness as h


def _deliveries(http, report_id):
    return [r for r in http.records() if r["json"] and r["json"].get("report_id") == report_id]


def test_same_external_id_twice_is_a_duplicate(daemon, http_sink):
    body = h.report(text="Repeated delivery test")
    first = daemon.post(body)
    assert first.status_code == 202, first.text
    a = first.json()
    assert a["duplicate"] is False
    second = daemon.post(body)
    assert second.status_code == 200, second.text
    b = second.json()
    assert b == {"report_id": a["report_id"], "case_id": a["case_id"], "duplicate": True}

    # A repeat with a different body but the same external id is still the same report.
    changed = dict(body, text="Different text, same id")
    third = daemon.post(changed)
    assert third.status_code == 200, third.text
    assert third.json()["report_id"] == a["report_id"]
    rows = daemon.q("SELECT text FROM reports WHERE external_id = ?", body["external_id"])
    assert len(rows) == 1

    # Exactly the original deliveries, no resend for the duplicates.
    rows = daemon.wait_settled(a["report_id"])
    assert len(rows) == 1
    http_sink.wait_report("/ok/en", a["report_id"])
    time.sleep(1.0)  # a resend would be immediate; give it the chance to show up
    got = _deliveries(http_sink, a["report_id"])
    assert len(got) == 1, [r["path"] for r in got]
    assert len(daemon.notifications(a["report_id"])) == 1
    assert daemon.q("SELECT COUNT(*) AS n FROM reports")[0]["n"] == 1


def test_idempotency_key_header_is_the_external_id(daemon, http_sink):
    body = {"sender": "+79001234567", "text": "Report identified by header"}
    key = h.new_external_id("hdr")
    first = daemon.post(body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    a = first.json()
    second = daemon.post(body, headers={"Idempotency-Key": key})
    assert second.status_code == 200, second.text
    assert second.json() == {"report_id": a["report_id"], "case_id": a["case_id"],
                             "duplicate": True}
    row = daemon.q("SELECT external_id FROM reports WHERE id = ?", a["report_id"])
    assert row == [{"external_id": key}]

    # Without a key, two identical bodies are two reports.
    c = daemon.submit(body)
    d = daemon.submit(body)
    assert c["report_id"] != d["report_id"]
    assert c["report_id"] != a["report_id"]

    daemon.wait_settled(a["report_id"])
    http_sink.wait_report("/ok/en", a["report_id"])
    time.sleep(1.0)
    assert len(_deliveries(http_sink, a["report_id"])) == 1


def test_external_ids_are_scoped_per_source(daemon):
    body = h.report(text="Same id from two sources")
    a = daemon.submit(body)
    b = daemon.submit(body, token=h.OTHER_TOKEN)
    assert a["report_id"] != b["report_id"]
    rows = daemon.q("SELECT source FROM reports WHERE external_id = ? ORDER BY id",
                    body["external_id"])
    assert [r["source"] for r in rows] == [h.SOURCE, "other"]
    again = daemon.post(body, token=h.OTHER_TOKEN)
    assert again.status_code == 200 and again.json()["report_id"] == b["report_id"]


def test_concurrent_duplicates_yield_one_report(daemon, http_sink):
    body = h.report(text="Race on the same external id")
    n = 24
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        try:
            r = daemon.post(body, timeout=15)
            results[i] = (r.status_code, r.json())
        except requests.RequestException as e:
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(str(c) for c, _ in results)
    assert codes.count("202") == 1, codes
    assert codes.count("200") == n - 1, codes
    ids = {(js["report_id"], js["case_id"]) for _, js in results}
    assert len(ids) == 1, ids
    report_id = ids.pop()[0]
    assert daemon.q("SELECT COUNT(*) AS n FROM reports WHERE external_id = ?",
                    body["external_id"])[0]["n"] == 1
    daemon.wait_settled(report_id)
    http_sink.wait_report("/ok/en", report_id)
    time.sleep(1.0)
    assert len(_deliveries(http_sink, report_id)) == 1


def test_body_external_id_wins_over_header(daemon):
    body = h.report(text="both ids given")
    a = daemon.submit(body, headers={"Idempotency-Key": "header-key-1"})
    row = daemon.q("SELECT external_id FROM reports WHERE id = ?", a["report_id"])[0]
    assert row["external_id"] == body["external_id"]
    # The header key was not used, so a header-only report with it is new.
    b = daemon.submit({"sender": "x", "text": "header only"},
                      headers={"Idempotency-Key": "header-key-1"})
    assert b["report_id"] != a["report_id"]
