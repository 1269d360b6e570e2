"""`python -m bench [--size small|full] [--only P1 …]`: run the figures, print them, update latest.json.

`python -m bench --readme` rewrites README.md's figures from latest.json (no database needed)."""

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
    parser.add_argument(
        "--readme", action="store_true", help="rewrite README.md's figures from the results file and exit"
    )
    return parser.parse_args(argv)


def merge(path: Path, results: dict[str, dict], *, removed=(), known=None) -> dict[str, dict]:
    """Write `results` into the file at `path`, keeping the entries of figures not run now.

    The entries of `removed` (figures that failed or were skipped now) go, as do those of ids that are no
    longer figures (`known`, when given): a figure's entry is always its latest successful run.
    """
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
    gone = {fid for fid in merged if fid in removed or (known is not None and fid not in known)}
    for fid in sorted(gone, key=bench.figure_sort_key):
        print(f"removed {fid} from {path}: {'not a figure any more' if fid not in removed else 'no result this run'}")
        del merged[fid]
    merged.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return merged


def _print(fig: bench.Figure, result: bench.Result) -> None:
    met = fig.goal_met(result)
    goal = "" if met is None else f"  (goal {fig.goal_text(result.unit)}: {'met' if met else 'MISSED'})"
    queries = "" if result.queries is None else f"  queries {result.queries}"
    print(f"{fig.id}  {fig.title}  [size {result.size}, n={result.repetitions}]")
    print(
        f"    value {result.value:.6g} {result.unit}  baseline {result.baseline:.6g} {result.unit}"
        f"  ratio {result.ratio:.3f}{goal}{queries}"
    )
    if result.extra:
        print(
            "    "
            + ", ".join(
                f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                for key, value in result.extra.items()
            )
        )
    if result.notes:
        print(f"    {result.notes}")
    sys.stdout.flush()


def _readme(results: Path) -> int:
    from bench._readme import README, ReadmeError, readme_update

    try:
        block = readme_update(README, results)
    except ReadmeError as error:
        print(f"README.md not changed: {error}", file=sys.stderr)
        return 1
    print(block)
    print(f"wrote these lines into {README}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.readme:
        return _readme(args.output)
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
    failed = run_figures(figures, args.size, args.output, known=set(bench.FIGURES))
    return 1 if failed else 0


def run_figures(figures: dict[str, bench.Figure], size: str, output: Path, *, known=None) -> list[str]:
    """Run `figures`, print each, write the ones that succeeded into `output` with their provenance and remove
    the entries of those that failed or were skipped; returns the ids that failed."""
    run = bench.provenance()  # the engine, commit and cores of every figure of this run
    print(f"{run['engine']}, commit {run['commit']}, {run['cores']} cores, size {size}")
    results: dict[str, dict] = {}
    failed, skipped = [], []
    for fig in figures.values():
        try:
            result = fig.run(size)
            results[fig.id] = bench.entry(fig, result, {**run, "when": bench.now_iso()})
        except bench.Skip as why:
            print(f"{fig.id}  {fig.title}: skipped: {why}")
            skipped.append(fig.id)
            continue
        except Exception:
            traceback.print_exc()
            print(f"{fig.id}  {fig.title}: FAILED (see above)", file=sys.stderr)
            failed.append(fig.id)
            continue
        _print(fig, result)
    merge(output, results, removed={*failed, *skipped}, known=known)
    if results:
        print(f"wrote {', '.join(results)} to {output}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
