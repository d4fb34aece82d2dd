"""Summarise Autobahn reports: counts per side, every case that is not OK.

python autobahn/summary.py [REPORTS_DIR]   (default: autobahn/reports)

Reads REPORTS_DIR/servers/index.json (our server, tested by wstest's
fuzzingclient) and REPORTS_DIR/clients/index.json (our client, tested by
wstest's fuzzingserver); prints, per side, how many cases got each verdict for
``behavior`` and ``behaviorClose``, then every case that is not OK on either
with Autobahn's reason; writes the same as markdown to REPORTS_DIR/summary.md.

Exit status 1 on any FAILED (or the other failing close verdicts: WRONG CODE,
UNCLEAN, FAILED BY CLIENT), on any UNIMPLEMENTED (12.x/13.x included, now
that permessage-deflate is implemented), or when a side's report is missing
or empty, or the two sides ran different cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SIDES = (("server", "servers"), ("client", "clients"))
VERDICTS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
FAILING = {"FAILED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT"}
# Case groups allowed to be UNIMPLEMENTED: none, since permessage-deflate
# (12.x/13.x) landed.
UNIMPLEMENTED_ALLOWED: tuple[str, ...] = ()
REASON_LIMIT = 400


def case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split(".") if part.isdigit())


def shorten(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def load_side(directory: Path) -> dict[str, dict[str, object]] | None:
    index = directory / "index.json"
    if not index.exists():
        return None
    agents = json.loads(index.read_text())
    cases: dict[str, dict[str, object]] = {}
    for results in agents.values():  # one agent per run: trio_ws
        cases.update(results)
    return cases


def events(items: object) -> str:
    """Autobahn's event list, compact: message payloads cut to 40 characters."""
    if not isinstance(items, list):
        return repr(items)
    out = []
    for item in items:
        if isinstance(item, list) and item and item[0] == "message":
            payload = str(item[1])
            payload = payload if len(payload) <= 40 else payload[:37] + "..."
            kind = "binary" if len(item) > 2 and item[2] else "text"
            out.append(f"{kind} {payload!r}")
        else:
            out.append(
                " ".join(str(x) for x in item) if isinstance(item, list) else str(item)
            )
    return "[" + ", ".join(out) + "]"


def reasons(directory: Path, result: dict[str, object]) -> tuple[str, str, str]:
    """(result, resultClose, details) from the case's own report file."""
    try:
        detail = json.loads((directory / str(result["reportfile"])).read_text())
    except (KeyError, OSError, ValueError):
        return ("(no case report)", "", "")
    expected = detail.get("expected") or {}
    strict = expected.get("OK") if isinstance(expected, dict) else None
    details = (
        f"received {events(detail.get('received'))}; "
        f"OK expects {events(strict)}; close codes: testee "
        f"{detail.get('remoteCloseCode')}, wstest {detail.get('localCloseCode')}"
    )
    return (
        str(detail.get("result", "")),
        str(detail.get("resultClose", "")),
        details,
    )


def main() -> int:
    reports = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "reports"
    )
    lines: list[str] = []  # markdown
    problems: list[str] = []
    table: list[tuple[str, str, dict[str, int], int]] = []
    not_ok: list[str] = []
    case_sets: dict[str, set[str]] = {}

    for side, sub in SIDES:
        directory = reports / sub
        cases = load_side(directory)
        if cases is None:
            problems.append(f"{side}: no report ({directory / 'index.json'} missing)")
            continue
        if not cases:
            problems.append(f"{side}: the report has no cases")
            continue
        case_sets[side] = set(cases)
        for field in ("behavior", "behaviorClose"):
            counts = dict.fromkeys(VERDICTS, 0)
            other = 0
            for result in cases.values():
                verdict = str(result.get(field))
                if verdict in counts:
                    counts[verdict] += 1
                else:
                    other += 1
            table.append((side, field, counts, other))
        for case_id in sorted(cases, key=case_key):
            result = cases[case_id]
            behavior = str(result.get("behavior"))
            close = str(result.get("behaviorClose"))
            if behavior == "OK" and close == "OK":
                continue
            why, why_close, details = reasons(directory, result)
            entry = f"{side} {case_id}: behavior={behavior} behaviorClose={close}"
            if behavior != "OK":
                entry += f"\n    result: {shorten(why)}"
            if close != "OK":
                entry += f"\n    resultClose: {shorten(why_close)}"
            if details:
                entry += f"\n    {shorten(details)}"
            not_ok.append(entry)
            for verdict in (behavior, close):
                if verdict in FAILING:
                    problems.append(f"{side} {case_id}: {verdict}")
                    break
                if verdict == "UNIMPLEMENTED" and not (
                    UNIMPLEMENTED_ALLOWED and case_id.startswith(UNIMPLEMENTED_ALLOWED)
                ):
                    problems.append(f"{side} {case_id}: UNIMPLEMENTED")
                    break

    if len(case_sets) == 2 and case_sets["server"] != case_sets["client"]:
        problems.append(
            "the two sides ran different cases: "
            f"{len(case_sets['server'])} server, {len(case_sets['client'])} client"
        )

    header = ["side", "field", *VERDICTS, "other"]
    rows = [
        [side, field, *(str(counts[v]) for v in VERDICTS), str(other)]
        for side, field, counts, other in table
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    print(
        "Autobahn testsuite results (other = WRONG CODE / UNCLEAN / FAILED BY CLIENT)"
    )
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    totals = ", ".join(f"{side} {len(ids)} cases" for side, ids in case_sets.items())
    print(f"({totals})")
    print()
    if not_ok:
        print(f"Cases not OK ({len(not_ok)}):")
        for entry in not_ok:
            print(f"  {entry}")
    else:
        print("Every case is OK on both sides.")

    lines.append("# Autobahn testsuite results\n")
    lines.append(f"Cases run: {totals}.\n")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    lines.append("")
    if not_ok:
        lines.append("Cases not OK:\n")
        for entry in not_ok:
            first, *rest = entry.split("\n")
            lines.append(f"- {first}")
            lines.extend(f"  - {r.strip()}" for r in rest)
    else:
        lines.append("Every case is OK on both sides.")
    if reports.is_dir():
        (reports / "summary.md").write_text("\n".join(lines) + "\n")

    print()
    if problems:
        print(f"AUTOBAHN: FAIL ({len(problems)} problem(s))")
        for problem in problems[:50]:
            print(f"  {problem}")
        if len(problems) > 50:
            print(f"  ... and {len(problems) - 50} more")
        return 1
    print("AUTOBAHN: PASS (no FAILED, no UNIMPLEMENTED)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
