"""The ``wtm`` command: run chapters, build the book.

    wtm run noise -p sigma_train 0.6         # one notebook, paper profile, one override
    wtm run data --profile quick
    wtm book --profile quick                 # every notebook, then the HTML book
    wtm book -p noise.n_seeds 5              # an override for one notebook of the book
    wtm params noise                         # a notebook's parameters, defaults, allowed values
    wtm claims                               # the scorecard (exit 1 if a value is missing)
    wtm claims --reading "W2 lr 1, b2 frozen"  # the claims under another optimizer reading
    wtm bench                                # training speed against the matmul rate
    wtm cache                                # what results are stored, by experiment
    wtm cache --prune                        # delete what no configuration can use
    wtm cache --thin                         # thin the stored runs to what the book reads
    wtm results pack --out wtm-results-paper.tar   # the stored results as one archive
    wtm results fetch URL_OR_FILE            # verify an archive, then add its results
"""

from __future__ import annotations

import argparse
import shlex
import sys

from wtmlib.build import pipeline
from wtmlib.results import cache
from wtmlib.config import ConfigError
from wtmlib.book import params


def _overrides(pairs, notebook: str | None) -> dict[str, dict]:
    """``-p KEY VALUE`` pairs as ``{notebook: {key: value}}`` (``nb.key`` in ``wtm book``)."""
    out: dict[str, dict] = {}
    for key, value in pairs or []:
        nb, _, name = key.rpartition(".") if notebook is None else (notebook, ".", key)
        if not nb:
            raise params.ParameterError(
                f"-p {key}: in 'wtm book' name the notebook too, e.g. -p noise.{key} VALUE")
        out.setdefault(nb, {})[name] = params.parse_value(value)
    return out


def _cache_command(root, prune: bool, dry_run: bool) -> None:
    """``wtm cache``: stored results per experiment and numerics version (count, size,
    how many thinned, oldest), then, with ``--prune``, what was (or would be) deleted."""
    rows = cache.stored(root)
    print(f"results in {root or cache.results_root()} (numerics version now "
          f"{cache.NUMERICS_VERSION}):")
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["experiment"], r["numerics"], r["current"]), []).append(r)
    for (exp, numerics, current), rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        size = sum(r["bytes"] for r in rs) / 2**20
        print(f"  {exp:<12} numerics {numerics!s:<4} {len(rs):4d} runs {size:9.1f} MiB  "
              f"{sum(r['thinned'] for r in rs):4d} thinned  "
              f"oldest {max(r['age_days'] for r in rs):5.1f} days  "
              f"{'in use' if current else 'unusable (prune)'}")
    print(f"  {'all':<12} {'':13} {len(rows):4d} runs "
          f"{sum(r['bytes'] for r in rows) / 2**20:9.1f} MiB")
    if prune:
        gone = cache.prune(root, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        print(f"{verb} {len(gone)} result(s), "
              f"{sum(r['bytes'] for r in gone) / 2**20:.1f} MiB")


def _thin_command(root, profile: str) -> int:
    """``wtm cache --thin``: thin the stored runs of ``profile``'s book to the epochs its
    chapters read (``wtmlib.build.thin``), in place; a build does this by itself once its
    runs are trained, so this is for results stored before it did (e.g. a finished
    build's). Refused while the readings sweep is incomplete (the runs drawn depend on
    the reading it chooses)."""
    from wtmlib.book.jobs import Plan  # noqa: PLC0415 (torch)
    from wtmlib.build import thin  # noqa: PLC0415

    # the chosen reading is read from the same folder
    with pipeline._environ({"WTM_RESULTS": str(root)} if root is not None else {}):
        reads = thin.reads(Plan(params.resolve(profile), profile))
        if reads is None:
            raise ConfigError(f"the readings sweep of profile {profile!r} is not complete in "
                              f"{cache.results_root()}: nothing thinned (build the book first)")
        done = thin.thin_stored(reads, log=print, every_s=0.0)
        print(f"thinned {done['runs']} run(s): {done['before'] / 2**20:.1f} MiB -> "
              f"{done['after'] / 2**20:.1f} MiB")
        _cache_command(None, False, False)
    return 0


def _results_command(args) -> int:
    """``wtm results pack`` and ``wtm results fetch`` (``wtmlib.results.archive``)."""
    from wtmlib.results import archive  # noqa: PLC0415

    if args.action == "pack":
        params.check_profile(args.profile)
        out = args.out or f"wtm-results-{args.profile}.tar"
        try:
            manifest = archive.pack(out, args.profile, args.root)
        except OSError as err:
            raise RuntimeError(f"--out {out}: cannot write the archive ({err})") from None
        for note in manifest["skipped"]:
            print(f"wtm: not packed: {note}", file=sys.stderr)
        print(f"packed {manifest['results']} result(s), "
              f"{manifest['total_bytes'] / 2**20:.1f} MiB, numerics version "
              f"{manifest['numerics']}, into {out}")
        return 0
    root = args.root or cache.results_root()
    try:
        done = archive.fetch(args.src, root, replace=args.replace)
    except KeyboardInterrupt:
        part = archive.partial_path(args.src, root)
        kept = f"; the partial download {part} is kept" if part.exists() else ""
        print(f"wtm: fetch interrupted, nothing installed{kept}. The same command resumes: "
              f"wtm results fetch {shlex.quote(args.src)}", file=sys.stderr)
        return 130
    m = done.manifest
    print(f"fetched {m['results']} result(s) (numerics version {m['numerics']}, profile "
          f"{m.get('profile')}, commit {m.get('commit')}, packed {m.get('created')}) into "
          f"{done.root}: {len(done.installed)} new, {len(done.identical)} already here")
    if done.replaced:
        print(f"  replaced {len(done.replaced)} local result(s) (damaged, incomplete or "
              f"--replace): {', '.join(done.replaced)}")
    if done.kept:
        print(f"  kept {len(done.kept)} local result(s) that differ from the archive's "
              f"(--replace takes the archive's): {', '.join(done.kept)}")
    return 0


def _reading_profile(profile: str, reading: str) -> str:
    """``"<profile>@<reading folder>"`` for ``wtm claims --reading``, refused (naming the
    stored readings) when the readings chapter stored no claims for it."""
    from wtmlib.claims.store import claims_dir
    from wtmlib.claims.reading_rule import reading_slug

    folder = claims_dir(profile) / "readings"
    stored = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if reading_slug(reading) not in stored:
        raise ConfigError(f"--reading {reading!r}: no claims stored under profile {profile!r} "
                          f"for it; stored readings: {stored or 'none (run the readings chapter)'}")
    return f"{profile}@{reading_slug(reading)}"


def _build(args, argv: list) -> int:
    """``wtm run``/``wtm book``; a stop (SIGINT, SIGTERM, SIGHUP) ends with what was
    stored, what is left and how to resume, and exit status 128 + the signal."""
    try:
        with pipeline.stop_on_signals():
            if args.command == "run":
                pipeline.run_chapters(args.profile, _overrides(args.param, args.notebook),
                                      [args.notebook])
            else:
                pipeline.build_book(args.profile, _overrides(args.param, None))
    except pipeline.Stopped as stop:
        where = "".join(f"; {note}" for note in stop.notes)
        print(f"wtm: stopped by {stop}{where}\n"
              f"wtm: every process of the build is stopped and its lock released; finished "
              f"runs stay stored. The same command resumes: wtm {shlex.join(argv)}",
              file=sys.stderr)
        return 128 + stop.signum
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wtm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("run", "execute one notebook into book/chapters"),
                        ("book", "execute every notebook and build the HTML book")):
        p = sub.add_parser(name, help=help_)
        if name == "run":
            p.add_argument("notebook", help="short name, e.g. data, noise")
        p.add_argument("--profile", default="paper", help="paper (default) or quick")
        p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="override one parameter (repeatable)")
    p = sub.add_parser("params", help="list a notebook's parameters and their defaults")
    p.add_argument("notebook")
    p = sub.add_parser("bench", help="training speed against the matmul rate")
    p.add_argument("--epochs", type=int, default=8, help="epochs timed per measurement")
    p.add_argument("--rounds", type=int, default=5, help="repeats; the fastest is kept")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--sweep-models", type=int, default=4, help="models in the sweep rows")
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    p = sub.add_parser("claims", help="the reproduction scorecard; exit 1 if a claim has no value")
    p.add_argument("--profile", default="paper",
                   help="whose values: paper (default), quick, or interactive (notebooks run by hand)")
    p.add_argument("--reading", default=None,
                   help="the values under this reading of the paper's optimizer settings "
                        "(its name, e.g. 'W2 lr 1, b2 frozen', or its folder name)")
    p = sub.add_parser("cache", help="list the stored results by experiment; --prune deletes "
                                     "those of other numerics versions; --thin thins the "
                                     "runs to the epochs the book reads")
    p.add_argument("--prune", action="store_true", help="delete what no configuration can use")
    p.add_argument("--dry-run", action="store_true", help="with --prune: only say what would go")
    p.add_argument("--thin", action="store_true",
                   help="thin the stored runs to the epochs the book's chapters read")
    p.add_argument("--profile", default="paper", help="with --thin: whose book (default paper)")
    p.add_argument("--root", default=None, help="results folder (default: $WTM_RESULTS or results/)")
    p = sub.add_parser("results", help="the stored results as one archive: pack, fetch")
    acts = p.add_subparsers(dest="action", required=True, metavar="{pack,fetch}")
    q = acts.add_parser("pack", help="write the current stored results into one tar, "
                                     "MANIFEST.json first")
    q.add_argument("--profile", default="paper",
                   help="the profile the results were built with (paper or quick), recorded in "
                        "the manifest and the default file name. Results are keyed by "
                        "configuration, not profile: every complete result of the current "
                        "numerics version is packed")
    q.add_argument("--out", default=None, help="archive to write (default "
                   "wtm-results-PROFILE.tar; .tar.gz compresses, to no gain on .npz files)")
    q.add_argument("--root", default=None, help="results folder (default: $WTM_RESULTS or results/)")
    q = acts.add_parser("fetch", help="download or read an archive, verify every file, then "
                                      "add its results to the results folder")
    q.add_argument("src", metavar="SRC", help="an http:// or https:// URL, or a local file path")
    q.add_argument("--replace", action="store_true",
                   help="replace local results that differ from the archive's (default: keep)")
    q.add_argument("--root", default=None, help="results folder (default: $WTM_RESULTS or results/)")
    args = parser.parse_args(argv)

    try:
        if args.command == "params":
            for line in params.describe_parameters(args.notebook):
                print(line)
        elif args.command == "bench":
            from wtmlib.perf import bench  # noqa: PLC0415 (wtm params needs no torch)

            bench.main(args.epochs, args.device, args.threads, args.out, args.sweep_models,
                       args.rounds)
        elif args.command == "claims":
            params.check_profile(args.profile, interactive=True)
            from wtmlib.claims import scorecard  # noqa: PLC0415

            if args.reading is not None:
                scorecard.print_table(_reading_profile(args.profile, args.reading))
                return 0  # claims run under the chosen reading only are missing by design
            missing = scorecard.print_table(args.profile)
            if missing:
                print(f"wtm: {missing} claim(s) have no measured value yet", file=sys.stderr)
                return 1
        elif args.command == "cache":
            if args.thin:
                params.check_profile(args.profile)
                return _thin_command(args.root, args.profile)
            _cache_command(args.root, args.prune, args.dry_run)
        elif args.command == "results":
            return _results_command(args)
        elif args.command in ("run", "book"):
            return _build(args, sys.argv[1:] if argv is None else argv)
    except (params.ParameterError, pipeline.NotebookFailed, ConfigError, RuntimeError) as err:
        print(f"wtm: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
