"""Conformance results, the matrix anyone can read, and the comparison of two runs.

One run of the suite writes `conformance-results.json` (everything below is derived from it), a
`conformance-matrix.md` and a self-contained `conformance-matrix.html`. The matrix answers, per
requirement and per seed task, "does this target meet the contract?", and lists each miss with the
assertion that failed, because a red cell without the reason sends the reader to the logs.

Outcomes: `passed`, `failed` (an assertion about the target failed), `error` (the suite could not
run the test: a fixture or the target's set-up broke), `not-implemented` (the target's interface
lacks a contract method the test calls), `skipped-capability` (the target cannot do what the test
needs: move its clock, be upgraded, state a limit), `skipped` (anything else).

    python -m conformance.report --compare A.json B.json     # every divergence between two runs
    python -m conformance.report --matrix A.json [B.json ...] --out DIR   # one matrix, a column per run

`--compare` exits 1 when the runs diverge, so CI can gate on emulator/replica parity.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .catalog import MISSING_CAPABILITY, NOT_IMPLEMENTED, REQUIREMENTS, TASKS
from .snapshot import diff, filter_diffs
from .stored_bytes import summary as stored_bytes_summary

__all__ = [
    "OUTCOMES",
    "RESULTS_FILE",
    "RunResults",
    "TestResult",
    "classify_skip",
    "compare_runs",
    "main",
    "render_html",
    "render_markdown",
    "write_reports",
]

RESULTS_FILE = "conformance-results.json"
MATRIX_MD = "conformance-matrix.md"
MATRIX_HTML = "conformance-matrix.html"
OUTCOMES = (
    "passed",
    "failed",
    "error",
    "not-implemented",
    "skipped-capability",
    "skipped",
    "xfailed",
    "xpassed",
)
_MISSES = ("failed", "error", "xpassed")


def classify_skip(reason: str) -> str:
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(NOT_IMPLEMENTED):
        return "not-implemented"
    if reason.startswith(MISSING_CAPABILITY):
        return "skipped-capability"
    return "skipped"


@dataclass
class TestResult:
    nodeid: str
    rule: str = ""
    reqs: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    outcome: str = ""  # empty until the test reported (deselected or not reached: not in results)
    reason: str = ""
    message: str = ""
    duration: float = 0.0
    replies: list[Any] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=lambda: {"status": "not-compared"})
    snapshot_skip: list[str] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class RunResults:
    target: dict[str, Any]
    results: list[TestResult]
    started: str = ""
    duration: float = 0.0
    argv: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return str(self.target.get("name") or self.target.get("kind") or "target")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def by_id(self) -> dict[str, TestResult]:
        return {r.nodeid: r for r in self.results}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "storeforever-conformance/1",
            "target": self.target,
            "started": self.started,
            "duration": round(self.duration, 3),
            "argv": self.argv,
            "counts": self.counts(),
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def load(cls, path: Path) -> RunResults:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(f"cannot read results {path}: {exc}") from exc
        if not isinstance(data, dict) or "results" not in data:
            raise SystemExit(f"{path} is not a conformance results file")
        return cls(
            target=dict(data.get("target") or {}),
            results=[TestResult.from_json(r) for r in data["results"]],
            started=str(data.get("started", "")),
            duration=float(data.get("duration", 0.0)),
            argv=list(data.get("argv", [])),
        )


# -- the matrix ------------------------------------------------------------------------------------


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _groups(runs: Sequence[RunResults], attr: str) -> list[str]:
    keys: set[str] = set()
    for run in runs:
        for r in run.results:
            keys.update(getattr(r, attr))
    return sorted(keys, key=_version_key)


def _cell(results: Iterable[TestResult]) -> tuple[str, str]:
    """(text, css class) summarising the outcomes of the tests of one requirement on one target."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    if not counts:
        return "—", "none"
    parts = []
    for outcome, label in (
        ("failed", "FAIL"),
        ("error", "ERROR"),
        ("xpassed", "XPASS"),
        ("passed", "pass"),
        ("xfailed", "xfail"),
        ("not-implemented", "not implemented"),
        ("skipped-capability", "skipped (capability)"),
        ("skipped", "skipped"),
    ):
        if counts.get(outcome):
            parts.append(f"{counts[outcome]} {label}")
    misses = sum(counts.get(o, 0) for o in _MISSES)
    if misses:
        css = "fail"
    elif counts.get("passed"):
        css = "pass" if len(counts) == 1 else "partial"
    elif counts.get("not-implemented"):
        css = "ni"
    else:
        css = "skip"
    return ", ".join(parts), css


def _summary_line(run: RunResults) -> str:
    c = run.counts()
    return (
        f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['not-implemented']} not implemented by target, {c['skipped-capability']} skipped "
        f"(missing capability), {c['skipped']} skipped"
        + (f", {c['xfailed']} xfailed" if c["xfailed"] else "")
        + (f", {c['xpassed']} xpassed" if c["xpassed"] else "")
    )


def _table_rows(
    runs: Sequence[RunResults], attr: str, titles: Mapping[str, str]
) -> list[list[tuple[str, str]]]:
    rows = []
    for key in _groups(runs, attr):
        row = [(key, "key"), (titles.get(key, ""), "title")]
        for run in runs:
            row.append(_cell(r for r in run.results if key in getattr(r, attr)))
        rows.append(row)
    return rows


def _parity_rows(run: RunResults) -> list[TestResult]:
    return [r for r in run.results if r.snapshot.get("status") == "differs"]


def render_markdown(runs: Sequence[RunResults]) -> str:
    out = ["# Conformance matrix", ""]
    for run in runs:
        t = run.target
        out.append(
            f"- **{run.label}** ({t.get('kind', '?')}): `{t.get('url', '')}`, canister "
            f"`{t.get('canister_id', '')}`; interface from {t.get('interface_source', '?')}; "
            f"capabilities: {', '.join(t.get('capabilities', [])) or 'none'}; run {run.started} "
            f"({run.duration:.1f} s)"
        )
        out.append(f"  - {_summary_line(run)}")
        out.append(f"  - {stored_bytes_summary(t.get('stored_bytes'))}")
    out.append("")
    for title, attr, names in (("By requirement", "reqs", REQUIREMENTS), ("By seed task", "tasks", TASKS)):
        out += [f"## {title}", ""]
        head = ["", "rule", *[run.label for run in runs]]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for row in _table_rows(runs, attr, names):
            out.append("| " + " | ".join(text.replace("|", "\\|") for text, _ in row) + " |")
        out.append("")
    for run in runs:
        misses = [r for r in run.results if r.outcome in _MISSES]
        out += [f"## Misses on {run.label} ({len(misses)})", ""]
        if not misses:
            out += ["None.", ""]
        for r in misses:
            out.append(f"### `{r.nodeid}` ({r.outcome})")
            out.append(f"requirements {', '.join(r.reqs)}; tasks {', '.join(r.tasks)}. {r.rule}")
            out += ["", "```", r.message.strip() or "(no message)", "```", ""]
        skipped = [
            r for r in run.results if r.outcome in ("not-implemented", "skipped-capability", "skipped")
        ]
        if skipped:
            out += [f"### Not run on {run.label} ({len(skipped)})", ""]
            out += [f"- `{r.nodeid}`: {r.outcome}: {r.reason}" for r in skipped]
            out.append("")
        parity = _parity_rows(run)
        if parity:
            out += [f"### Replies that differ from the snapshots ({len(parity)} tests)", ""]
            for r in parity:
                out.append(f"- `{r.nodeid}`")
                for d in r.snapshot.get("diffs", [])[:20]:
                    out.append(
                        f"  - `{d['path']}`: snapshot `{_short(d['expected'])}`, here `{_short(d['actual'])}`"
                    )
            out.append("")
    out += ["## All tests", ""]
    head = ["test", "requirements", "tasks", *[run.label for run in runs]]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    index = [run.by_id() for run in runs]
    for nodeid in _all_ids(runs):
        first = next(ix[nodeid] for ix in index if nodeid in ix)
        cells = [ix[nodeid].outcome if nodeid in ix else "—" for ix in index]
        out.append(
            f"| `{nodeid}` | {', '.join(first.reqs)} | {', '.join(first.tasks)} | " + " | ".join(cells) + " |"
        )
    out.append("")
    return "\n".join(out)


def _all_ids(runs: Sequence[RunResults]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for r in run.results:
            seen.setdefault(r.nodeid, None)
    return list(seen)


def _short(value: Any, width: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3}
.pass{background:#dff5e1}.fail{background:#f9d6d5;font-weight:bold}.partial{background:#eef7d0}
.ni{background:#e3e8f7}.skip{background:#f1f1f1;color:#666}.none{color:#aaa}
pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap;font-size:.85em}
code{font-size:.9em}
"""

_OUTCOME_CSS = {
    "passed": "pass",
    "failed": "fail",
    "error": "fail",
    "xpassed": "fail",
    "not-implemented": "ni",
    "skipped-capability": "skip",
    "skipped": "skip",
    "xfailed": "skip",
}


def render_html(runs: Sequence[RunResults]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Conformance matrix</title>",
        f"<style>{_CSS}</style></head><body><h1>Conformance matrix</h1><ul>",
    ]
    for run in runs:
        t = run.target
        parts.append(
            f"<li><b>{e(run.label)}</b> ({e(str(t.get('kind', '?')))}): <code>{e(str(t.get('url', '')))}"
            f"</code>, canister <code>{e(str(t.get('canister_id', '')))}</code>; interface from "
            f"{e(str(t.get('interface_source', '?')))}; capabilities: "
            f"{e(', '.join(t.get('capabilities', [])) or 'none')}; run {e(run.started)} "
            f"({run.duration:.1f} s)<br>{e(_summary_line(run))}"
            f"<br>{e(stored_bytes_summary(t.get('stored_bytes')))}</li>"
        )
    parts.append("</ul>")
    for title, attr, names in (("By requirement", "reqs", REQUIREMENTS), ("By seed task", "tasks", TASKS)):
        parts.append(f"<h2>{e(title)}</h2><table><tr><th></th><th>rule</th>")
        parts += [f"<th>{e(run.label)}</th>" for run in runs]
        parts.append("</tr>")
        for row in _table_rows(runs, attr, names):
            parts.append("<tr>" + "".join(f"<td class='{css}'>{e(text)}</td>" for text, css in row) + "</tr>")
        parts.append("</table>")
    for run in runs:
        misses = [r for r in run.results if r.outcome in _MISSES]
        parts.append(f"<h2>Misses on {e(run.label)} ({len(misses)})</h2>")
        for r in misses:
            parts.append(
                f"<h3><code>{e(r.nodeid)}</code> ({e(r.outcome)})</h3>"
                f"<p>requirements {e(', '.join(r.reqs))}; tasks {e(', '.join(r.tasks))}. {e(r.rule)}</p>"
                f"<pre>{e(r.message.strip() or '(no message)')}</pre>"
            )
        parity = _parity_rows(run)
        if parity:
            parts.append(f"<h3>Replies that differ from the snapshots ({len(parity)} tests)</h3><ul>")
            for r in parity:
                items = "".join(
                    f"<li><code>{e(d['path'])}</code>: snapshot <code>{e(_short(d['expected']))}</code>, "
                    f"here <code>{e(_short(d['actual']))}</code></li>"
                    for d in r.snapshot.get("diffs", [])[:20]
                )
                parts.append(f"<li><code>{e(r.nodeid)}</code><ul>{items}</ul></li>")
            parts.append("</ul>")
    parts.append("<h2>All tests</h2><table><tr><th>test</th><th>rule</th><th>requirements</th><th>tasks</th>")
    parts += [f"<th>{e(run.label)}</th>" for run in runs]
    parts.append("</tr>")
    index = [run.by_id() for run in runs]
    for nodeid in _all_ids(runs):
        first = next(ix[nodeid] for ix in index if nodeid in ix)
        cells = []
        for ix in index:
            found = ix.get(nodeid)
            if found is None:
                cells.append("<td class='none'>—</td>")
            else:
                r = found
                why = _why(r)
                cells.append(
                    f"<td class='{_OUTCOME_CSS.get(r.outcome, 'skip')}' title='{e(why)}'>{e(r.outcome)}</td>"
                )
        parts.append(
            f"<tr><td><code>{e(nodeid)}</code></td><td>{e(first.rule)}</td>"
            f"<td>{e(', '.join(first.reqs))}</td><td>{e(', '.join(first.tasks))}</td>{''.join(cells)}</tr>"
        )
    parts.append("</table></body></html>\n")
    return "".join(parts)


def write_reports(runs: Sequence[RunResults], directory: Path, *, results: bool = True) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if results and len(runs) == 1:
        path = directory / RESULTS_FILE
        path.write_text(json.dumps(runs[0].to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    for name, text in ((MATRIX_MD, render_markdown(runs)), (MATRIX_HTML, render_html(runs))):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# -- comparing two runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Divergence:
    nodeid: str
    kind: str  # "outcome" | "missing" | "replies"
    detail: str


def compare_runs(a: RunResults, b: RunResults) -> list[Divergence]:
    """Every test whose outcome or (normalised) replies differ between two runs."""
    out: list[Divergence] = []
    ia, ib = a.by_id(), b.by_id()
    for nodeid in _all_ids([a, b]):
        ra, rb = ia.get(nodeid), ib.get(nodeid)
        if ra is None or rb is None:
            where = b.label if ra is None else a.label
            out.append(Divergence(nodeid, "missing", f"only run on {where}"))
            continue
        if ra.outcome != rb.outcome:
            detail = f"{a.label}: {_why(ra)}; {b.label}: {_why(rb)}"
            out.append(Divergence(nodeid, "outcome", detail))
            continue
        skip = ra.snapshot_skip if ra.snapshot_skip is not None else rb.snapshot_skip
        if skip is not None and not skip:
            continue  # the test opted out of reply comparison (thread-ordered replies)
        if ra.outcome != "passed":
            continue  # replies of a failed or skipped test are not a contract statement
        diffs = filter_diffs(diff(ra.replies, rb.replies), skip or [])
        for d in diffs:
            out.append(
                Divergence(
                    nodeid,
                    "replies",
                    f"{d['path']}: {a.label} {_short(d['expected'])} != {b.label} {_short(d['actual'])}",
                )
            )
    return out


def _why(r: TestResult) -> str:
    text = r.reason or (r.message.strip().splitlines()[0] if r.message.strip() else "")
    return f"{r.outcome}" + (f" ({_short(text, 160)})" if text else "")


def format_divergences(a: RunResults, b: RunResults, divergences: Sequence[Divergence]) -> str:
    if not divergences:
        return f"no divergences between {a.label} and {b.label} ({len(a.results)} / {len(b.results)} tests)\n"
    lines = [f"{len(divergences)} divergence(s) between {a.label} and {b.label}:"]
    current = None
    for d in divergences:
        if d.nodeid != current:
            lines.append(d.nodeid)
            current = d.nodeid
        lines.append(f"  {d.kind}: {d.detail}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.report",
        description="Compare two conformance runs, or render one matrix from several results files.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="two results files")
    mode.add_argument("--matrix", nargs="+", type=Path, metavar="RESULTS", help="results files")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for --matrix output")
    parser.add_argument("--json", action="store_true", help="--compare: print divergences as JSON")
    args = parser.parse_args(argv)
    if args.compare:
        a, b = (RunResults.load(p) for p in args.compare)
        divergences = compare_runs(a, b)
        if args.json:
            print(json.dumps([asdict(d) for d in divergences], indent=1))
        else:
            sys.stdout.write(format_divergences(a, b, divergences))
        return 1 if divergences else 0
    runs = [RunResults.load(p) for p in args.matrix]
    for path in write_reports(runs, args.out, results=False):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
