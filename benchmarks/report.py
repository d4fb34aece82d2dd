# ruff: noqa: RUF001  (the multiplication sign and en dash are meant)
"""Summarise benchmark results: medians, ratios, targets, markdown table, PNG chart.

``benchmarks/run.py`` calls :func:`summarise`, :func:`markdown` and :func:`chart`;
``python benchmarks/report.py benchmarks/results/latest.json`` re-renders the
markdown and the chart from a results file without measuring anything.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

# (metric key, workload key, result field, short label, unit, higher is better)
SERVER_METRICS = [
    ("a_rate", "a", "msgs_per_s", "(a) ping-pong", "msgs/s", True),
    ("a_p50", "a", "p50_us", "(a) p50 RTT", "µs", False),
    ("a_p99", "a", "p99_us", "(a) p99 RTT", "µs", False),
    ("b_rate", "b", "msgs_per_s", "(b) pipelined", "msgs/s", True),
    ("c64k", "c64k", "mb_per_s", "(c) 64 KiB echo", "MB/s", True),
    ("c1m", "c1m", "mb_per_s", "(c) 1 MiB echo", "MB/s", True),
    ("d_rate", "d", "msgs_per_s", "(d) 100 conns", "msgs/s", True),
    ("e_rate", "e", "conns_per_s", "(e) connect+close", "conn/s", True),
    ("f_kib", "f", "kib_per_conn", "(f) idle RSS", "KiB/conn", False),
]
# Server CPU time per operation, read from /proc/PID/task/*/schedstat by the load
# client over the timed part only: much less sensitive to a noisy machine than
# wall-clock rates, and what an optimisation of the server changes.
SERVER_CPU_METRICS = [
    ("a_cpu", "a", "server_cpu_us_per_op", "(a) ping-pong CPU", "µs/msg", False),
    ("b_cpu", "b", "server_cpu_us_per_op", "(b) pipelined CPU", "µs/msg", False),
    (
        "c64k_cpu",
        "c64k",
        "server_cpu_us_per_op",
        "(c) 64 KiB echo CPU",
        "µs/msg",
        False,
    ),
    ("c1m_cpu", "c1m", "server_cpu_us_per_op", "(c) 1 MiB echo CPU", "µs/msg", False),
    ("d_cpu", "d", "server_cpu_us_per_op", "(d) 100 conns CPU", "µs/msg", False),
    ("e_cpu", "e", "server_cpu_us_per_op", "(e) connect+close CPU", "µs/conn", False),
]
CLIENT_METRICS = [
    ("a_rate", "a", "msgs_per_s", "(a) ping-pong", "msgs/s", True),
    ("a_p50", "a", "p50_us", "(a) p50 RTT", "µs", False),
    ("a_p99", "a", "p99_us", "(a) p99 RTT", "µs", False),
    ("b_rate", "b", "msgs_per_s", "(b) pipelined", "msgs/s", True),
    ("e_rate", "e", "conns_per_s", "(e) connect+close", "conn/s", True),
]
CLIENT_CPU_METRICS = [
    ("a_cpu", "a", "client_cpu_us_per_op", "(a) ping-pong CPU", "µs/msg", False),
    ("b_cpu", "b", "client_cpu_us_per_op", "(b) pipelined CPU", "µs/msg", False),
    ("e_cpu", "e", "client_cpu_us_per_op", "(e) connect+close CPU", "µs/conn", False),
]

# fmt: off
# The targets for trio_ws as a server (issue 22, after issue 12's). Each: the
# metric; how it is judged ("ratio_min"/"ratio_max": the median of ``impl``
# over the median of ``against``; "abs_max": the value itself <= bound, in
# ``unit``); the bound; the text; the server-CPU metric whose inverse ratio
# is what a baseline-relative target would reach if the server were the only
# limit (None: not applicable). ``trio_ws`` is the compiled build when the
# header says so; ``trio_ws_pure`` always runs pure Python.
TARGETS: list[dict[str, Any]] = [
    {"metric": "b_cpu", "kind": "abs_max", "bound": 3.0, "unit": "µs",
     "text": "(b) pipelined: server CPU ≤ 3.0 µs/message", "cpu": None},
    {"metric": "a_p50", "kind": "ratio_max", "bound": 1.2,
     "text": "(a) p50 RTT ≤ 1.2× plain Trio TCP", "cpu": None},
    {"metric": "c1m", "kind": "ratio_min", "bound": 0.9,
     "text": "(c) 1 MiB echo MB/s ≥ 0.9× plain Trio TCP (no NumPy)",
     "cpu": "c1m_cpu"},
    {"metric": "e_rate", "kind": "ratio_min", "bound": 0.55,
     "text": "(e) handshakes/s ≥ 0.55× plain TCP connect/close", "cpu": "e_cpu"},
    {"metric": "e_cpu", "kind": "abs_max", "bound": 200.0, "unit": "µs",
     "text": "(e) server CPU ≤ 200 µs per connect+close", "cpu": None},
    {"metric": "f_kib", "kind": "abs_max", "bound": 10.0,
     "text": "(f) idle connection, no keepalive ≤ 10 KiB", "cpu": None},
    {"metric": "f_kib", "kind": "abs_max", "bound": 12.0,
     "text": "(f') idle connection, default keepalive ≤ 12 KiB", "cpu": None,
     "impl": "trio_ws_keepalive"},
]

# fmt: on

BASELINE = "plain_trio"
UNDER_TEST = "trio_ws"


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": values,
    }


def _table_stats(
    entries: dict[str, Any], metrics: list[tuple[str, str, str, str, str, bool]]
) -> dict[str, Any]:
    """{metric: {impl: stats + ratio_to_baseline}}, plus {metric: {impl: {peer: r}}}."""
    out: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    for key, workload, field, *_ in metrics:
        per_impl: dict[str, Any] = {}
        for impl, entry in entries.items():
            runs = entry.get("runs", {}).get(workload, [])
            values = [r[field] for r in runs if isinstance(r, dict) and field in r]
            if values:
                per_impl[impl] = _stats(values)
        base = per_impl.get(BASELINE)
        for s in per_impl.values():
            s["ratio_to_plain_trio"] = (
                s["median"] / base["median"] if base and base["median"] else None
            )
        out[key] = per_impl
        ratios[key] = {
            impl: {
                peer: (s["median"] / p["median"] if p["median"] else None)
                for peer, p in per_impl.items()
                if peer != impl
            }
            for impl, s in per_impl.items()
        }
    return {"metrics": out, "ratios": ratios}


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    servers = _table_stats(
        results.get("servers", {}), SERVER_METRICS + SERVER_CPU_METRICS
    )
    clients = _table_stats(
        results.get("clients", {}), CLIENT_METRICS + CLIENT_CPU_METRICS
    )
    targets = []
    for target in TARGETS:
        key, kind, bound, text = (
            target[k] for k in ("metric", "kind", "bound", "text")
        )
        impl = target.get("impl", UNDER_TEST)
        against = target.get("against", BASELINE)
        per = servers["metrics"].get(key, {})
        s = per.get(impl)
        if s is None or (kind != "abs_max" and against not in per):
            targets.append(
                {"target": text, "kind": kind, "measured": None, "met": None}
            )
            continue
        value = (
            s["median"]
            if kind == "abs_max"
            else (
                s["median"] / per[against]["median"] if per[against]["median"] else None
            )
        )
        met = None
        if value is not None:
            met = value >= bound if kind == "ratio_min" else value <= bound
        cpu_equivalent = None
        c = servers["metrics"].get(target["cpu"] or "", {}).get(impl)
        if c and c.get("ratio_to_plain_trio") and against == BASELINE:
            cpu_equivalent = 1 / c["ratio_to_plain_trio"]
        targets.append(
            {
                "target": text,
                "metric": key,
                "kind": kind,
                "bound": bound,
                "unit": target.get("unit", "KiB"),
                "measured": value,
                "met": met,
                "cpu_equivalent": cpu_equivalent,
            }
        )
    # Client self-check: the load client's best rate (against any server, the
    # fast asyncio ones included) must exceed every Trio WebSocket server's.
    selfcheck = []
    roles = {k: v.get("role") for k, v in results.get("servers", {}).items()}
    for key, _w, _f, label, unit, higher in SERVER_METRICS:
        if not higher:
            continue
        per = servers["metrics"].get(key, {})
        trio_ws_like = {
            i: s["median"] for i, s in per.items() if roles.get(i) in ("test", "peer")
        }
        if not per or not trio_ws_like:
            continue
        best_impl = max(per, key=lambda i: per[i]["median"])
        fastest_trio = max(trio_ws_like, key=lambda i: trio_ws_like[i])
        plain = per.get(BASELINE, {}).get("median")
        runs = results["servers"].get(UNDER_TEST, {}).get("runs", {}).get(_w, [])
        busy = [r["client_busy"] for r in runs if "client_busy" in r]
        client_cpu = [
            r["client_cpu_us_per_op"] for r in runs if "client_cpu_us_per_op" in r
        ]
        server_cpu = [
            r["server_cpu_us_per_op"] for r in runs if "server_cpu_us_per_op" in r
        ]
        selfcheck.append(
            {
                "metric": key,
                "label": f"{label} {unit}",
                "client_best": per[best_impl]["median"],
                "client_best_against": best_impl,
                "plain_trio": plain,
                "fastest_trio_ws_server": fastest_trio,
                "fastest_trio_ws_value": trio_ws_like[fastest_trio],
                "headroom": per[best_impl]["median"] / trio_ws_like[fastest_trio],
                "plain_beats_all_trio_ws": (
                    plain is not None and plain > max(trio_ws_like.values())
                ),
                "client_busy_vs_trio_ws": statistics.median(busy) if busy else None,
                "client_cpu_us_per_op_vs_trio_ws": (
                    statistics.median(client_cpu) if client_cpu else None
                ),
                "trio_ws_server_cpu_us_per_op": (
                    statistics.median(server_cpu) if server_cpu else None
                ),
            }
        )
    return {
        "servers": servers,
        "clients": clients,
        "targets": targets,
        "selfcheck": selfcheck,
    }


# ----------------------------------------------------------------- rendering


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _pct(x: float | None) -> str:
    return "?" if x is None or x < 0 else f"{x:.0%}"


def _ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"


def _order(entries: dict[str, Any]) -> list[str]:
    return [k for k, v in entries.items() if v.get("available", True)]


def _main_table(
    summary: dict[str, Any],
    entries: dict[str, Any],
    metrics: list[tuple[str, str, str, str, str, bool]],
    baseline_label: str,
) -> list[str]:
    head = ["implementation"] + [
        f"{label} {unit} {'↑' if hi else '↓'}"
        for _k, _w, _f, label, unit, hi in metrics
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impl in entries:
        entry = entries[impl]
        name = entry.get("label", impl)
        if impl == UNDER_TEST:
            name = f"**{name}**"
        if not entry.get("available", True):
            lines.append(f"| {name} | " + " | ".join(["n/a"] * len(metrics)) + " |")
            continue
        cells = [name]
        for key, *_ in metrics:
            s = summary["metrics"].get(key, {}).get(impl)
            if s is None:
                cells.append("–")
            else:
                cells.append(
                    f"{_fmt(s['median'])} ({_ratio(s['ratio_to_plain_trio'])})"
                )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Cells: median of the repeats (ratio to {baseline_label}).")
    return lines


def _peer_table(
    summary: dict[str, Any],
    entries: dict[str, Any],
    metrics: list[tuple[str, str, str, str, str, bool]],
) -> list[str]:
    peers = [
        i
        for i in _order(entries)
        if i != UNDER_TEST and entries[i].get("role") != "selfcheck"
    ]
    head = ["trio_ws ÷ …"] + [
        f"{label} {'↑' if hi else '↓'}" for _k, _w, _f, label, _u, hi in metrics
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for peer in peers:
        cells = [entries[peer].get("label", peer)]
        for key, *_ in metrics:
            r = summary["ratios"].get(key, {}).get(UNDER_TEST, {}).get(peer)
            cells.append(_ratio(r))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any], summary: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    servers = results.get("servers", {})
    clients = results.get("clients", {})
    out = [
        f"### Benchmarks ({meta.get('mode', '?')} run, {meta.get('date', '?')})",
        "",
        f"trio_ws {meta.get('trio_ws_version', '?')} ({meta.get('git', '?')}; "
        f"core: {meta.get('implementation', '?')}), "
        f"Python {meta.get('python', '?')}, "
        f"trio {meta.get('versions', {}).get('trio', '?')}, "
        f"{meta.get('cpus', '?')} CPUs, {meta.get('pinning', '?')}; "
        f"{meta.get('repeats_done', '?')} repeats, medians; loopback; compression "
        f"and keepalive off; run took {meta.get('wall_seconds', 0):.0f} s; load "
        f"average {meta.get('loadavg_start', '?')} at start, "
        f"{meta.get('loadavg_end', '?')} at the end; "
        f"{_pct(meta.get('busy_before_start'))} of the CPUs were busy with other "
        "work just before the run and "
        f"{_pct(meta.get('busy_after_end'))} just after (the machine is shared: read "
        "the ratios and the CPU times, not the absolute rates).",
        "",
        "#### Servers, driven by the fixed load client",
        "",
    ]
    out += _main_table(
        summary["servers"], servers, SERVER_METRICS, "the plain Trio TCP echo"
    )
    out += [
        "",
        "#### Server CPU time per operation (less sensitive to a noisy machine)",
        "",
    ]
    out += _main_table(
        summary["servers"], servers, SERVER_CPU_METRICS, "the plain Trio TCP echo"
    )
    out += ["", "#### trio_ws relative to each server in the same run", ""]
    out += _peer_table(summary["servers"], servers, SERVER_METRICS)
    out += [""]
    out += _peer_table(summary["servers"], servers, SERVER_CPU_METRICS)
    out += [
        "",
        "#### Targets for trio_ws (server)",
        "",
        "| target | measured | met | if only server CPU counted |",
        "|---|---|---|---|",
    ]
    for t in summary["targets"]:
        if t["measured"] is None:
            out.append(f"| {t['target']} | – | – | – |")
            continue
        shown = (
            f"{t['measured']:.1f} {t.get('unit', 'KiB')}"
            if t["kind"] == "abs_max"
            else f"{t['measured']:.2f}×"
        )
        cpu = t.get("cpu_equivalent")
        out.append(
            f"| {t['target']} | {shown} | {'yes' if t['met'] else '**no**'} | "
            f"{'–' if cpu is None else f'{cpu:.2f}×'} |"
        )
    out += [
        "",
        "The last column is plain TCP's server CPU per operation ÷ trio_ws's: "
        "the ratio the target would show if the server's CPU were the only limit.",
        "",
        "#### Load client self-check (is the client the bottleneck?)",
        "",
        "| workload | load client's best (against) | plain Trio TCP echo | "
        "fastest Trio WebSocket server | headroom | plain TCP > every Trio WS | "
        "load client busy, µs/op (trio_ws run) | trio_ws server µs/op |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in summary["selfcheck"]:
        busy = c.get("client_busy_vs_trio_ws")
        against = servers.get(c["client_best_against"], {})
        fastest = servers.get(c["fastest_trio_ws_server"], {})
        cells = [
            c["label"],
            f"{_fmt(c['client_best'])} ({against.get('short', '?')})",
            _fmt(c["plain_trio"]),
            f"{_fmt(c['fastest_trio_ws_value'])} ({fastest.get('short', '?')})",
            f"{c['headroom']:.1f}×",
            "yes" if c["plain_beats_all_trio_ws"] else "no",
            ("–" if busy is None else f"{busy:.0%}")
            + f", {_fmt(c.get('client_cpu_us_per_op_vs_trio_ws'))}",
            _fmt(c.get("trio_ws_server_cpu_us_per_op")),
        ]
        out.append("| " + " | ".join(cells) + " |")
    if clients:
        fixed = meta.get("client_server", "the minimal asyncio WebSocket echo")
        out += ["", f"#### Clients, against one fixed fast server ({fixed})", ""]
        out += _main_table(
            summary["clients"], clients, CLIENT_METRICS, "the plain Trio TCP client"
        )
        out += ["", "Client process CPU time per operation:", ""]
        out += _main_table(
            summary["clients"], clients, CLIENT_CPU_METRICS, "the plain Trio TCP client"
        )
        out += [""]
        out += _peer_table(summary["clients"], clients, CLIENT_METRICS)
        out += [""]
        out += _peer_table(summary["clients"], clients, CLIENT_CPU_METRICS)
    notes = list(meta.get("notes", []))
    base = summary["servers"]["metrics"]
    p50 = base.get("a_p50", {}).get(BASELINE, {}).get("median")
    p99 = base.get("a_p99", {}).get(BASELINE, {}).get("median")
    if p50 and p99 and p99 > 10 * p50:
        notes.append(
            f"(a) p99: the plain TCP echo's p99 is {p99 / p50:.0f}× its p50, so the "
            "p99 column mostly shows CPU contention with other processes on this "
            "machine (scheduler latency), not the libraries; compare p50s and CPU "
            "times."
        )
    warnings = []
    for side, entries in (("server", servers), ("client", clients)):
        for i, entry in entries.items():
            grouped: dict[str, list[str]] = {}
            for w in entry.get("warnings", []):
                head, sep, rest = w.partition(": ")
                if head.startswith("repeat ") and sep:
                    where = head.split(" ", 2)
                    key = (where[2] + ": " if len(where) > 2 else "") + rest
                    grouped.setdefault(key, []).append(where[1])
                else:
                    grouped.setdefault(w, [])
            for text, reps in grouped.items():
                text = " ".join(text.split())  # one line in a markdown list
                if len(text) > 300:
                    text = text[:150] + " … " + text[-140:]
                when = f" (repeats {', '.join(reps)})" if reps else ""
                warnings.append(f"{side} {entry.get('label', i)}{when}: {text}")
    if warnings or notes:
        out += ["", "Notes:"]
        out += [f"- {n}" for n in notes + warnings]
    out += ["", meta.get("definitions", ""), ""]
    return "\n".join(out)


ROLE_COLOURS = {
    "ceiling": "#7f7f7f",
    "test": "#d62728",
    "peer": "#1f77b4",
    "reference": "#9ecae1",
    "selfcheck": "#d9d9d9",
}


def chart(results: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    servers = results.get("servers", {})
    clients = results.get("clients", {})
    server_panels = [m for m in SERVER_METRICS if m[0] != "a_p99"]
    server_panels += [
        m for m in SERVER_CPU_METRICS if m[0] in ("a_cpu", "b_cpu", "c1m_cpu", "e_cpu")
    ]
    client_panels = [m for m in CLIENT_METRICS if m[0] in ("a_p50", "b_rate", "e_rate")]
    client_panels += [m for m in CLIENT_CPU_METRICS if m[0] == "a_cpu"]
    panels = [("servers", m) for m in server_panels] + [
        ("clients", m) for m in client_panels
    ]
    ncols = 4
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(20, 3.2 * nrows + 0.8), dpi=80)
    ticks = matplotlib.ticker.FuncFormatter(
        lambda v, _p: (
            f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k" if v >= 1e4 else f"{v:g}"
        )
    )
    flat = axes.flatten()
    # One target line per chart panel: those measured against the baseline.
    target_lines = {
        t["metric"]: (t["metric"], t["kind"], t["bound"], t["text"])
        for t in TARGETS
        if t.get("impl", UNDER_TEST) == UNDER_TEST
        and t.get("against", BASELINE) == BASELINE
    }
    for ax, (side, (key, _w, _f, label, unit, higher)) in zip(
        flat, panels, strict=False
    ):
        entries = servers if side == "servers" else clients
        stats = summary[side]["metrics"].get(key, {})
        impls = [i for i in _order(entries) if i in stats][::-1]
        if not impls:
            ax.set_axis_off()
            continue
        med = [stats[i]["median"] for i in impls]
        lo = [stats[i]["median"] - stats[i]["min"] for i in impls]
        hi = [stats[i]["max"] - stats[i]["median"] for i in impls]
        colours = [
            ROLE_COLOURS.get(entries[i].get("role", "peer"), "#1f77b4") for i in impls
        ]
        ax.barh(
            range(len(impls)),
            med,
            xerr=[lo, hi],
            color=colours,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"},
        )
        ax.set_yticks(range(len(impls)))
        ax.set_yticklabels([entries[i].get("short", i) for i in impls], fontsize=9)
        for tick, i in zip(ax.get_yticklabels(), impls, strict=True):
            if i == UNDER_TEST:
                tick.set_fontweight("bold")
        who = "server" if side == "servers" else "client"
        ax.set_title(
            f"{who} {label}, {unit} ({'↑' if higher else '↓'} better)", fontsize=9.5
        )
        top = max(med + [stats[i]["max"] for i in impls])
        small = min(v for v in med if v > 0) if any(v > 0 for v in med) else 1
        log = top / small > 40
        if log:
            ax.set_xscale("log")
            ax.set_xlim(small / 2, top * 12)
        else:
            ax.set_xlim(0, top * 1.45)
        for y, i in enumerate(impls):
            s = stats[i]
            r = s.get("ratio_to_plain_trio")
            text = _fmt(s["median"]) + (
                f"  {r:.2f}×" if r is not None and i != BASELINE else ""
            )
            ax.text(
                s["max"] * (1.08 if log else 1.0) + (0 if log else top * 0.02),
                y,
                text,
                va="center",
                fontsize=8,
            )
        base = stats.get(BASELINE, {}).get("median")
        t = target_lines.get(key) if side == "servers" else None
        if t is not None:
            _m, kind, bound, _text = t
            x = bound if kind == "abs_max" else (bound * base if base else None)
            if x:
                ax.axvline(x, color="#d62728", linestyle="--", linewidth=1)
                ax.text(
                    x,
                    0.02,
                    " target",
                    color="#d62728",
                    fontsize=8,
                    va="bottom",
                    transform=ax.get_xaxis_transform(),
                )
        ax.xaxis.set_major_formatter(ticks)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in flat[len(panels) :]:
        ax.set_axis_off()
    meta = results.get("meta", {})
    fig.suptitle(
        f"trio_ws benchmarks — {meta.get('mode', '')} run {meta.get('date', '')}, "
        f"medians of {meta.get('repeats_done', '?')} repeats (whiskers: min–max); "
        "ratios are to plain Trio TCP (servers) / the plain Trio TCP client (clients); "
        "red dashed: targets",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/latest.json")
    results = json.loads(path.read_text())
    summary = summarise(results)
    md = markdown(results, summary)
    path.with_suffix(".md").write_text(md)
    chart(results, summary, path.with_suffix(".png"))
    print(md)


if __name__ == "__main__":
    main()
