#!/usr/bin/python3
"""Warren's lint: clang-format, clang-tidy and the capturing-lambda-coroutine rule, against a
committed baseline of accepted findings. Run it as scripts/lint.sh (see there for the options).

A finding is counted per (file, check). The run fails when a count is above the baseline's
(a new finding), when clang-tidy cannot parse a translation unit, or when a tool is missing.
Counts below the baseline are reported as "fixed" and only tighten it with --update-baseline.
clang-format findings are not in the baseline: the baseline's `format` line says whether they
fail the run (`format strict`) or are only listed (`format report`, until the tree has been
reformatted once with `scripts/lint.sh --fix`, which switches it to strict).

Checks:
  clang-format                    the file differs from `clang-format --style=file` (.clang-format)
  <clang-tidy check>              clang-tidy 14 with the committed .clang-tidy, on TIDY_SCOPE's
                                  translation units of <build-dir>/compile_commands.json, findings
                                  in the project's own headers included
  warren-capturing-lambda-coroutine
                                  a lambda with captures whose body uses co_await/co_return/
                                  co_yield (the code style bans them; clang-tidy 17's
                                  cppcoreguidelines-avoid-capturing-lambda-coroutines, which
                                  clang-tidy 14 does not have)

Python 3 standard library only.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.path.join(ROOT, "scripts", "lint-baseline.txt")
# The translation units clang-tidy analyses: the library and the programs. tests/ and examples/
# are left out to fit CI's time budget (about 40 s of clang-tidy per Asio-heavy TU on 2 shared
# cores); their findings in framework headers are still found through the library's TUs.
TIDY_SCOPE = ("framework/", "services/", "bench/")
# Findings in these headers are reported (-header-filter); Boost and the standard library not.
HEADER_DIRS = ("framework", "services", "bench", "tests", "examples", "tools")
FORMAT_CHECK = "clang-format"
CORO_CHECK = "warren-capturing-lambda-coroutine"
CXX_SUFFIXES = (".cpp", ".hpp")


def log(msg):
    print("lint: " + msg, flush=True)


def tracked_sources():
    """The C++ files git tracks; without git (a source archive), those outside build/."""
    p = subprocess.run(["git", "ls-files", "-z", "--", "*.cpp", "*.hpp"], cwd=ROOT, capture_output=True)
    if p.returncode == 0:
        return sorted(f for f in p.stdout.decode().split("\0") if f.endswith(CXX_SUFFIXES))
    found = []
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in ("build", "node_modules") and not x.startswith(".")]
        found += [os.path.relpath(os.path.join(d, n), ROOT) for n in names if n.endswith(CXX_SUFFIXES)]
    return sorted(found)


def need(tool):
    path = shutil.which(tool)
    if not path:
        raise SystemExit("lint: %s not found (scripts/setup.sh installs it)" % tool)
    return path


# ---- clang-format -------------------------------------------------------------------------

def format_findings(files, jobs):
    """{(file, FORMAT_CHECK): 1} for every file clang-format would change; details per file."""
    exe = need("clang-format")

    def check(rel):
        p = subprocess.run([exe, "--style=file", "--dry-run", rel], cwd=ROOT,
                           capture_output=True, text=True)
        n = p.stderr.count("warning: code should be clang-formatted")
        return rel, n, p.returncode

    counts, details = collections.Counter(), {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for rel, n, rc in pool.map(check, files):
            if rc != 0:
                raise SystemExit("lint: clang-format failed on %s" % rel)
            if n:
                counts[(rel, FORMAT_CHECK)] = n
                details[(rel, FORMAT_CHECK)] = ["%s: %d place(s) differ from .clang-format "
                                                "(scripts/lint.sh --fix %s)" % (rel, n, rel)]
    return counts, details


def format_fix(files, jobs):
    exe = need("clang-format")
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda rel: subprocess.run([exe, "--style=file", "-i", rel], cwd=ROOT,
                                                 check=True), files))


# ---- clang-tidy ---------------------------------------------------------------------------

DIAG = re.compile(r"^(/[^:]+):(\d+):(\d+): (warning|error): (.*?)(?: \[([\w\-.,]+)\])?$")


def tidy_units(build_dir, scope):
    db = os.path.join(build_dir, "compile_commands.json")
    if not os.path.exists(db):
        raise SystemExit("lint: %s not found: configure and build first "
                         "(cmake --preset dev && cmake --build --preset dev)" % db)
    with open(db) as f:
        entries = json.load(f)
    units = set()
    for e in entries:
        path = os.path.normpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(path, ROOT)
        if rel.startswith(scope):
            units.add(rel)
    return sorted(units)


def tidy_findings(build_dir, units, jobs):
    exe = need("clang-tidy")
    header_filter = "^%s/(%s)/" % (re.escape(ROOT), "|".join(HEADER_DIRS))

    def run(rel):
        t0 = time.monotonic()
        p = subprocess.run([exe, "-p", build_dir, "--quiet", "--header-filter=" + header_filter,
                            # GCC-only warning flags in the compile commands
                            "--extra-arg=-Wno-unknown-warning-option", rel],
                           cwd=ROOT, capture_output=True, text=True)
        return rel, p, time.monotonic() - t0

    seen = {}  # (file, line, col, check) -> message: a header's finding counts once
    errors, times = [], []
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for rel, p, secs in pool.map(run, units):
            times.append((secs, rel))
            diagnosed = False
            for line in p.stdout.splitlines():
                m = DIAG.match(line)
                if not m:
                    continue
                diagnosed = True
                path, ln, col, kind, msg, check = m.groups()
                check = check or "clang-diagnostic-unknown"
                frel = os.path.relpath(path, ROOT)
                if kind == "error" and check.startswith("clang-diagnostic"):
                    errors.append("%s:%s:%s: %s [%s] (in %s)" % (frel, ln, col, msg, check, rel))
                    continue
                # clang-tidy writes a check promoted by WarningsAsErrors as "error"
                seen.setdefault((frel, int(ln), int(col), check.split(",")[0]), msg)
            if p.returncode != 0 and not diagnosed:
                errors.append("%s: clang-tidy exited %d: %s" % (rel, p.returncode, p.stderr.strip()[-400:]))
    counts, details = collections.Counter(), collections.defaultdict(list)
    for (frel, ln, col, check), msg in sorted(seen.items()):
        counts[(frel, check)] += 1
        details[(frel, check)].append("%s:%d:%d: %s [%s]" % (frel, ln, col, msg, check))
    return counts, details, errors, times


# ---- capturing lambda coroutines ----------------------------------------------------------

# A lambda introducer with a non-empty capture list, then (...), specifiers and -> ReturnType {
LAMBDA = re.compile(r"\[([^\[\]]*)\]\s*(?:<[^<>]*>\s*)?\(")
CO_KEYWORD = re.compile(r"\bco_(?:await|return|yield)\b")


def strip_comments_and_strings(text):
    """Blanks out comments and string/char literals, keeping offsets and newlines."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            d = text[i + 2:text.find("(", i + 2)]
            j = text.find(")" + d + '"', i)
            j = n if j < 0 else j + len(d) + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def matching(text, i, open_c, close_c):
    """Index just past the bracket that closes text[i] (== open_c), or -1."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_c:
            depth += 1
        elif text[j] == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def coro_findings(files):
    counts, details = collections.Counter(), collections.defaultdict(list)
    for rel in files:
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
            text = strip_comments_and_strings(f.read())
        for m in LAMBDA.finditer(text):
            capture = m.group(1).strip()
            if not capture or (m.start() > 0 and re.match(r"[\w\)\]>]", text[m.start() - 1])):
                continue  # no captures, or a subscript / attribute rather than a lambda
            params_end = matching(text, m.end() - 1, "(", ")")
            if params_end < 0:
                continue
            body = re.compile(r"[^;{}]*?\{").match(text, params_end)  # specifiers, -> type
            if not body:
                continue
            body_start = body.end() - 1
            body_end = matching(text, body_start, "{", "}")
            if body_end < 0 or not CO_KEYWORD.search(text, body_start, body_end):
                continue
            # co_ keywords of a nested lambda in the body are that lambda's, not this one's
            inner = text[body_start:body_end]
            nested = [(k.start(), matching(inner, inner.find("{", k.end()), "{", "}"))
                      for k in LAMBDA.finditer(inner)]
            own = [k for k in CO_KEYWORD.finditer(inner)
                   if not any(a <= k.start() < b for a, b in nested if b > 0)]
            if not own:
                continue
            line = text.count("\n", 0, m.start()) + 1
            counts[(rel, CORO_CHECK)] += 1
            details[(rel, CORO_CHECK)].append(
                "%s:%d: lambda coroutine captures [%s]: pass what it needs as parameters "
                "(the lambda object may die before the coroutine) [%s]" % (rel, line, capture, CORO_CHECK))
    return counts, details


# ---- baseline -----------------------------------------------------------------------------

def read_baseline():
    """(format mode, Counter of accepted findings)."""
    mode, base = "strict", collections.Counter()
    if not os.path.exists(BASELINE):
        return mode, base
    with open(BASELINE) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if words[0] == "format":
                if len(words) != 2 or words[1] not in ("report", "strict"):
                    raise SystemExit("lint: %s: bad line %r" % (BASELINE, line))
                mode = words[1]
                continue
            count, path, check = words
            base[(path, check)] = int(count)
    return mode, base


def write_baseline(mode, counts):
    with open(BASELINE, "w") as f:
        f.write("# scripts/lint.sh's accepted findings: <count> <file> <check>, one per line. A count\n"
                "# above this fails the lint. Rewrite it with scripts/lint.sh --update-baseline after\n"
                "# fixing findings, never to accept a new one without saying why in the commit.\n"
                "# `format report`: clang-format findings are listed but do not fail the lint, until\n"
                "# scripts/lint.sh --fix has reformatted the whole tree and written `format strict`.\n"
                "format %s\n" % mode)
        for (path, check), n in sorted(counts.items()):
            if check != FORMAT_CHECK:
                f.write("%d %s %s\n" % (n, path, check))


def main():
    ap = argparse.ArgumentParser(prog="scripts/lint.sh", description=__doc__.split("\n")[0])
    ap.add_argument("--format", action="store_true", help="run the clang-format check")
    ap.add_argument("--tidy", action="store_true", help="run clang-tidy")
    ap.add_argument("--coro", action="store_true", help="run the capturing-lambda-coroutine check")
    ap.add_argument("--fix", action="store_true",
                    help="reformat the files (all tracked C++ sources, or PATHS) with clang-format "
                         "and drop their clang-format entries from the baseline")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "dev"),
                    help="where compile_commands.json is (default build/dev)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--update-baseline", action="store_true",
                    help="write the current findings of the checks run as the baseline")
    ap.add_argument("--findings", metavar="FILE", help="write every finding (not only new ones) to FILE")
    ap.add_argument("--scope", metavar="DIRS", default=",".join(TIDY_SCOPE),
                    help="the folders whose translation units clang-tidy analyses (default %(default)s)")
    ap.add_argument("paths", nargs="*", help="limit to these files (default: every tracked C++ source)")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)

    files = tracked_sources()
    if args.paths:
        wanted = {os.path.relpath(os.path.abspath(p), ROOT) for p in args.paths}
        files = [f for f in files if f in wanted or any(f.startswith(w.rstrip("/") + "/") for w in wanted)]

    if args.fix:
        format_fix(files, args.jobs)
        log("reformatted %d file(s) with clang-format" % len(files))
        mode, base = read_baseline()
        if not args.paths and mode != "strict":
            write_baseline("strict", base)
            log("the whole tree is formatted: %s now says `format strict`" % os.path.relpath(BASELINE, ROOT))
        return 0

    run_all = not (args.format or args.tidy or args.coro)
    tidy_times = []
    counts, details, errors, ran = collections.Counter(), {}, [], set()
    t0 = time.monotonic()
    if run_all or args.format:
        c, d = format_findings(files, args.jobs)
        counts.update(c), details.update(d), ran.add("format")
        log("clang-format: %d file(s), %d not formatted (%.0f s)" % (len(files), len(c), time.monotonic() - t0))
    if run_all or args.coro:
        c, d = coro_findings(files)
        counts.update(c), details.update(d), ran.add("coro")
        log("lambda coroutines: %d capturing" % sum(c.values()))
    if run_all or args.tidy:
        t1 = time.monotonic()
        scope_dirs = tuple(d.strip().rstrip("/") + "/" for d in args.scope.split(",") if d.strip())
        units = tidy_units(build_dir, scope_dirs)
        if args.paths:
            units = [u for u in units if u in files]
        log("clang-tidy: %d translation unit(s) of %s, -j%d" % (len(units), ", ".join(scope_dirs), args.jobs))
        c, d, errors, times = tidy_findings(build_dir, units, args.jobs)
        counts.update(c), details.update(d), ran.add("tidy")
        times.sort(reverse=True)
        tidy_times = times
        log("clang-tidy: %d finding(s) in %.0f s (slowest TUs: %s)" % (
            sum(c.values()), time.monotonic() - t1,
            ", ".join("%s %.0f s" % (r, s) for s, r in times[:3])))

    def in_run(check):
        if check == FORMAT_CHECK:
            return "format" in ran
        if check == CORO_CHECK:
            return "coro" in ran
        return "tidy" in ran

    format_mode, base = read_baseline()
    # With PATHS a header's findings still count against its own baseline entry.
    relevant = {k: n for k, n in base.items() if in_run(k[1])}
    if format_mode == "report":
        # listed, never failing: accepted at whatever count they have
        relevant.update({k: n for k, n in counts.items() if k[1] == FORMAT_CHECK})

    if args.findings:
        with open(args.findings, "w") as f:
            by_check = collections.Counter()
            for (path, check), n in counts.items():
                by_check[check] += n
            f.write("# scripts/lint.sh findings: %d in %d file(s)\n# per check:\n" % (
                sum(counts.values()), len({k[0] for k in counts})))
            for check, n in by_check.most_common():
                f.write("#   %5d  %s\n" % (n, check))
            for key in sorted(counts):
                f.write("\n== %s  %s  (%d)\n" % (key[0], key[1], counts[key]))
                for line in details.get(key, []):
                    f.write("  " + line + "\n")
            if tidy_times:
                f.write("\n# clang-tidy seconds per translation unit (-j%d)\n" % args.jobs)
                for secs, rel in tidy_times:
                    f.write("#   %6.1f  %s\n" % (secs, rel))
        log("wrote every finding to %s" % args.findings)

    if args.update_baseline:
        if args.paths:
            raise SystemExit("lint: --update-baseline needs the whole tree (no PATHS)")
        keep = {k: n for k, n in base.items() if not in_run(k[1])}
        keep.update(counts)
        write_baseline(format_mode, keep)
        kept = {k: n for k, n in keep.items() if k[1] != FORMAT_CHECK}
        log("baseline rewritten: %d entr(y/ies), %d finding(s)" % (len(kept), sum(kept.values())))
        return 1 if errors else 0

    new = sorted(k for k in counts if counts[k] > relevant.get(k, 0))
    fixed = [] if args.paths else sorted(k for k in relevant if counts.get(k, 0) < relevant[k])
    for k in new:
        print("lint: NEW %s %s: %d (baseline %d)" % (k[1], k[0], counts[k], relevant.get(k, 0)))
        for line in details.get(k, []):
            print("    " + line)
    if fixed:
        log("%d baseline entr(y/ies) now lower; tighten with --update-baseline: %s" % (
            len(fixed), ", ".join("%s %s" % k for k in fixed[:10])))
    if format_mode == "report" and "format" in ran:
        log("clang-format (report mode, not failing): %d file(s) differ; scripts/lint.sh --fix "
            "reformats them and makes this check strict" % len([k for k in counts if k[1] == FORMAT_CHECK]))
    for e in errors:
        print("lint: ERROR " + e)
    checked = [k for k in counts if k[1] != FORMAT_CHECK or format_mode == "strict"]
    accepted = sum(min(counts[k], relevant.get(k, 0)) for k in checked)
    log("%d finding(s) checked: %d accepted by scripts/lint-baseline.txt, %d new; %d error(s)" % (
        sum(counts[k] for k in checked), accepted, sum(counts[k] - relevant.get(k, 0) for k in new),
        len(errors)))
    return 1 if new or errors else 0


if __name__ == "__main__":
    sys.exit(main())
