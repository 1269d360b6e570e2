"""`python -m bench [--size small|full] [--only P1 …]`: run the figures, print them, update latest.json."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

import bench


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--size", choices=bench.SIZES, default="full", help="small: a quick run for CI-sized checks (default: full)"
    )
    parser.add_argument("--only", action="append", metavar="ID", help="run only this figure (repeatable), e.g. P1")
    parser.add_argument("--output", type=Path, default=bench.LATEST, help="results file (default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    return parser.parse_args(argv)


def _merge(path: Path, results: dict[str, dict]) -> dict[str, dict]:
    """Earlier figures stay: the file keeps every id it had, updated with the ones run now."""
    merged: dict[str, dict] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except (OSError, ValueError):
            existing = None
        if isinstance(existing, dict):
            merged.update(existing)
        else:
            print(f"warning: {path} was not a JSON object; starting it afresh", file=sys.stderr)
    merged.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return merged


def _print(fig: bench.Figure, result: bench.Result) -> None:
    met = fig.goal_met(result)
    goal = "" if met is None else f"  (goal ≤ {fig.goal:g}: {'met' if met else 'MISSED'})"
    queries = "" if result.queries is None else f"  queries {result.queries}"
    print(f"{fig.id}  {fig.title}  [size {result.size}, n={result.repetitions}]")
    print(
        f"    value {result.value:.6g} {result.unit}  baseline {result.baseline:.6g} {result.unit}"
        f"  ratio {result.ratio:.3f}{goal}{queries}"
    )
    if result.notes:
        print(f"    {result.notes}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    bench.django_setup()
    figures = bench.discover()
    if args.list:
        for fig in figures.values():
            print(f"{fig.id}  {fig.title}")
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(figures))
        if unknown:
            print(f"unknown figure(s): {', '.join(unknown)}; known: {', '.join(figures)}", file=sys.stderr)
            return 2
        figures = {fid: fig for fid, fig in figures.items() if fid in args.only}
    results: dict[str, dict] = {}
    failed = []
    for fig in figures.values():
        try:
            result = fig.run(args.size)
        except bench.Skip as why:
            print(f"{fig.id}  {fig.title}: skipped: {why}")
            continue
        except Exception:
            traceback.print_exc()
            print(f"{fig.id}  {fig.title}: FAILED (see above)", file=sys.stderr)
            failed.append(fig.id)
            continue
        _print(fig, result)
        results[fig.id] = result.as_json()
    if results:
        _merge(args.output, results)
        print(f"wrote {', '.join(results)} to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
