#!/usr/bin/python3
"""bench/peer/run's JSON and statistics (stdlib only).

  summary.py run ...     one run's record (bench_peer's JSON + RSS + metrics + validity), one line
  summary.py line        a one-line human summary of the run record on stdin
  summary.py report ...  medians, the ratio table, the .md and .json; exit 3 if a run is INVALID
"""
import argparse
import json
import math
import statistics
import sys

SCENARIOS = {
    "closed16": "closed loop, 16 connections",
    "closed64": "closed loop, 64 connections",
    "count20k": "closed loop, 64 connections, fixed count",
    "paced1000": "open loop, 1000/s",
}
TARGETS = ("alertmanager", "hotline")
NAMES = {"alertmanager": "Alertmanager", "hotline": "hotline"}


def problems_of(peer, alive, expect_count):
    p = []
    if peer["sent"] <= 0:
        p.append("nothing was sent")
    if expect_count and peer["sent"] != expect_count:
        p.append(f"sent {peer['sent']} of {expect_count}")
    if "scheduled" in peer and peer["sent"] != peer["scheduled"]:
        p.append(f"sent {peer['sent']} of {peer['scheduled']} scheduled")
    if peer["answered_ok"] != peer["sent"]:
        p.append(f"answered OK {peer['answered_ok']} of {peer['sent']} (statuses {json.dumps(peer['statuses'])})")
    if peer["errors"] != 0:
        p.append(f"{peer['errors']} connect/io errors")
    if peer["delivered"] != peer["sent"]:
        p.append(f"delivered {peer['delivered']} of {peer['sent']}")
    if peer["duplicates"] != 0:
        p.append(f"{peer['duplicates']} duplicate webhooks")
    if not alive:
        p.append("the daemon died during the run")
    return p


def cmd_run(a):
    with open(a.peer) as f:
        peer = json.load(f)
    metrics = []
    with open(a.metrics) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "connection" in line.split("{")[0].split()[0]:
                metrics.append(line)
    problems = problems_of(peer, a.alive == 1, a.expect_count)
    rec = {
        "scenario": a.scenario, "rep": a.rep, "target": a.target, "command": a.command,
        "idle_rss_kib": a.idle_rss, "peak_rss_kib": a.peak_rss,
        "connection_metrics": metrics if a.target == "hotline" else None,
        "peer": peer, "valid": not problems, "problems": problems,
    }
    print(json.dumps(rec))


def cmd_line(_):
    r = json.loads(sys.stdin.readline())
    p = r["peer"]
    s = (f"{r['scenario']} rep {r['rep']} {r['target']:<12} e2e/s {p['e2e_rps']}, "
         f"e2e p99 {p['e2e_ms'].get('p99')} ms, delivered {p['delivered']}/{p['sent']}, "
         f"sink connections {p['sink_connections']}, peak RSS {r['peak_rss_kib'] // 1024} MiB")
    if not r["valid"]:
        s += " INVALID: " + "; ".join(r["problems"])
    print(s)


# ---- medians ---------------------------------------------------------------------------

def figures(r):
    """The per-run figures that get medians. None = not measured; inf = a percentile that
    fell among undelivered requests (bench_peer's null), infinitely late."""
    p = r["peer"]

    def pct(block, key):
        v = p[block].get(key)
        if v is None:
            return math.inf if p[block]["count"] + p[block]["missing"] > 0 else None
        return v

    return {
        "e2e_rps": p["e2e_rps"], "ingest_rps": p["ingest_rps"],
        "e2e_p50_ms": pct("e2e_ms", "p50"), "e2e_p90_ms": pct("e2e_ms", "p90"),
        "e2e_p99_ms": pct("e2e_ms", "p99"), "e2e_max_ms": pct("e2e_ms", "max"),
        "answer_p50_ms": pct("answer_ms", "p50"), "answer_p99_ms": pct("answer_ms", "p99"),
        "peak_rss_mib": r["peak_rss_kib"] / 1024, "idle_rss_mib": r["idle_rss_kib"] / 1024,
        "new_connections_per_100": p["new_connections_per_100"],
        "sink_connections": p["sink_connections"],
    }


def median(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    m = statistics.median(vals)
    return None if math.isinf(m) else round(m, 3)


def medians(runs):
    out = {}
    for scenario in dict.fromkeys(r["scenario"] for r in runs):
        out[scenario] = {}
        for target in TARGETS:
            sel = [figures(r) for r in runs if r["scenario"] == scenario and r["target"] == target]
            if sel:
                out[scenario][target] = {k: median([f[k] for f in sel]) for k in sel[0]}
                out[scenario][target]["runs"] = len(sel)
    idle = {}
    for target in TARGETS:
        vals = [r["idle_rss_kib"] / 1024 for r in runs if r["target"] == target]
        idle[target] = median(vals)
    out["all"] = {t: {"idle_rss_mib": idle[t]} for t in TARGETS}
    return out


# ---- report ----------------------------------------------------------------------------

def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if digits == 0:
        return f"{round(v):,}"
    return f"{v:,.{digits}f}"


def ratio(am, hl):
    if am is None or hl is None or am == 0:
        return "n/a"
    return f"{hl / am:.2f}×"


def table_rows(med, meta):
    count = meta["load"]["count"]
    rows = []

    def row(label, scenario, key, digits, better):
        m = med.get(scenario)
        if not m or "alertmanager" not in m or "hotline" not in m:
            return
        am, hl = m["alertmanager"][key], m["hotline"][key]
        rows.append({"label": label, "better": better, "scenario": scenario, "figure": key,
                     "alertmanager": am, "hotline": hl,
                     "ratio": None if am in (None, 0) or hl is None else round(hl / am, 3),
                     "cells": (fmt(am, digits), fmt(hl, digits), ratio(am, hl))})

    row("e2e/s, 16 connections", "closed16", "e2e_rps", 0, "higher")
    row("e2e/s, 64 connections", "closed64", "e2e_rps", 0, "higher")
    row(f"e2e/s, {count:,} reports over 64 connections", "count20k", "e2e_rps", 0, "higher")
    row("answers/s, 64 connections", "closed64", "ingest_rps", 0, "higher")
    row("e2e p99 ms, 64 connections", "closed64", "e2e_p99_ms", 2, "lower")
    row(f"peak RSS MiB, {count:,} reports", "count20k", "peak_rss_mib", 1, "lower")
    row("idle RSS MiB (after start, before load; all runs)", "all", "idle_rss_mib", 1, "lower")
    rate = meta["load"]["paced_rate"]
    row(f"e2e p50 ms, paced {rate}/s", "paced1000", "e2e_p50_ms", 2, "lower")
    row(f"e2e p99 ms, paced {rate}/s", "paced1000", "e2e_p99_ms", 2, "lower")
    for scenario, what in (("closed16", "16 connections"), ("closed64", "64 connections"),
                           ("count20k", f"{count:,} reports"), ("paced1000", f"paced {rate}/s")):
        row(f"new connections per 100 notifications, {what}", scenario,
            "new_connections_per_100", 1, "lower")
    return rows


def markdown(result):
    meta, runs, rows = result["meta"], result["runs"], result["table"]
    m = meta["machine"]
    load = meta["load"]
    out = []
    title = f"# bench/peer — {meta['started']}, commit {meta['commit']}"
    if meta["uncommitted_changes"]:
        title += " (+ uncommitted changes)"
    out += [title, ""]
    verdict = "VALID" if result["valid"] else "INVALID"
    out += [f"**{verdict}**: {len(runs)} runs ({meta['reps']} per scenario and target, "
            f"interleaved: Alertmanager then hotline){'; quick smoke test, not a measurement' if meta['quick'] else ''}.", ""]
    out += ["| scenario | Alertmanager | hotline | ratio |", "|---|---:|---:|---:|"]
    for r in rows:
        arrow = "↑" if r["better"] == "higher" else "↓"
        out.append(f"| {r['label']} ({arrow} better) | {r['cells'][0]} | {r['cells'][1]} | {r['cells'][2]} |")
    out += ["", "ratio = hotline ÷ Alertmanager (medians over the repetitions); "
            "n/a = not measured, or a percentile that falls among undelivered notifications.", ""]
    out += ["## Machine and versions", "| | |", "|---|---|",
            f"| CPU | {m['cpu']}, {m['nproc']} cores (nproc) |",
            f"| memory | {m['memory']} |", f"| kernel | {m['kernel']} |",
            f"| load average at start | {' '.join(m['loadavg_at_start'])} |",
            f"| scratch (hotline DB, Alertmanager data) | {m['scratch_filesystem']} |",
            f"| hotline | {meta['hotline_version']}, Release, binary built {meta['hotlined_binary_built']}, "
            f"SQLite WAL synchronous=FULL, webhook channel concurrency {meta.get('channel_concurrency', 16)}, "
            f"logging.level info |",
            f"| Alertmanager | {meta['alertmanager_version']}, group_by ['...'], group_wait 0s, "
            f"group_interval 1s, clustering off |",
            "| pinning | " + (f"daemon on CPU {meta['pinning']['daemon_cpu']}, bench_peer on CPU "
                             f"{meta['pinning']['bench_peer_cpu']}" if meta["pinning"] else
                             "none (both daemons and bench_peer share all cores)") + " |",
            f"| load | closed: {load['closed_duration_s']} s; count20k: {load['count']:,} requests; "
            f"paced: {load['paced_rate']}/s for {load['paced_duration_s']} s after {load['paced_warmup_s']} s "
            f"warm-up; drain ≤ {load['drain_s']} s |", ""]
    out += ["## Runs",
            "| scenario | rep | target | sent | OK | delivered | dup | unknown | errors | answers/s | e2e/s "
            "| answer p99 ms | e2e p50 ms | e2e p99 ms | e2e max ms | sink conns | new conns/100 | idle / peak RSS MiB | valid |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        p = r["peer"]
        out.append(
            f"| {r['scenario']} | {r['rep']} | {NAMES[r['target']]} | {p['sent']} | {p['answered_ok']} | "
            f"{p['delivered']} | {p['duplicates']} | {p['unknown']} | {p['errors']} | {fmt(p['ingest_rps'], 0)} | "
            f"{fmt(p['e2e_rps'], 0)} | {fmt(p['answer_ms'].get('p99'), 2)} | {fmt(p['e2e_ms'].get('p50'), 2)} | "
            f"{fmt(p['e2e_ms'].get('p99'), 2)} | {fmt(p['e2e_ms'].get('max'), 2)} | {p['sink_connections']} | "
            f"{fmt(p['new_connections_per_100'], 1)} | {r['idle_rss_kib'] / 1024:.1f} / {r['peak_rss_kib'] / 1024:.1f} | "
            f"{'ok' if r['valid'] else 'INVALID: ' + '; '.join(r['problems'])} |")
    out.append("")
    hl_metrics = [r for r in runs if r["target"] == "hotline" and r["connection_metrics"]]
    out += ["## hotline's connection metrics at the end of each run", ""]
    if hl_metrics:
        out.append("```")
        for r in hl_metrics:
            for line in r["connection_metrics"]:
                out.append(f"{r['scenario']}/{r['rep']}: {line}")
        out.append("```")
    else:
        out.append("(none exported)")
    out += ["", "## Validity", "A run is valid when every request was answered OK (hotline 202 with a "
            "report_id, Alertmanager 200), every notification arrived at the sink exactly once "
            "(0 duplicates) within the drain, there were 0 connect/io errors and the daemon stayed up.", ""]
    bad = [r for r in runs if not r["valid"]]
    if bad:
        for r in bad:
            out.append(f"- {r['scenario']} rep {r['rep']} {NAMES[r['target']]}: INVALID — {'; '.join(r['problems'])}")
    else:
        out.append("- every run: ok")
    out += ["", "## Commands", "```"]
    for r in runs:
        out.append(f"{r['scenario']}/{r['rep']}/{r['target']}: {r['command']}")
    out += ["```", "Full JSON: the .json file next to this one."]
    return "\n".join(out) + "\n"


def cmd_report(a):
    with open(a.meta) as f:
        meta = json.load(f)
    with open(a.runs) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    med = medians(runs)
    result = {"meta": meta, "valid": all(r["valid"] for r in runs), "medians": med}
    result["table"] = table_rows(med, meta)
    result["runs"] = runs
    with open(a.json_out, "w") as f:
        json.dump({k: v for k, v in result.items()}, f, indent=2)
        f.write("\n")
    with open(a.md_out, "w") as f:
        f.write(markdown(result))
    return 0 if result["valid"] else 3


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--scenario", required=True)
    r.add_argument("--rep", type=int, required=True)
    r.add_argument("--target", choices=TARGETS, required=True)
    r.add_argument("--peer", required=True)
    r.add_argument("--metrics", required=True)
    r.add_argument("--idle-rss", type=int, required=True)
    r.add_argument("--peak-rss", type=int, required=True)
    r.add_argument("--alive", type=int, required=True)
    r.add_argument("--expect-count", type=int, default=0)
    r.add_argument("--command", default="")
    sub.add_parser("line")
    rep = sub.add_parser("report")
    rep.add_argument("--meta", required=True)
    rep.add_argument("--runs", required=True)
    rep.add_argument("--json-out", required=True)
    rep.add_argument("--md-out", required=True)
    a = ap.parse_args()
    if a.cmd == "run":
        cmd_run(a)
    elif a.cmd == "line":
        cmd_line(a)
    else:
        sys.exit(cmd_report(a))


if __name__ == "__main__":
    main()
