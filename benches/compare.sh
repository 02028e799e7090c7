#!/usr/bin/env bash
# Compare markcert's parser with biip (the Python GS1 parser) on the same codes.
#
# 1. runs the criterion benchmark `codes` (groups `parse` and `normalize`) with a short measurement
#    time suited to a small machine;
# 2. reads codes/s per case from target/criterion/<group>/<case>/new/estimates.json;
# 3. runs benches/biip_bench.py on the same file, benches/data/codes.txt;
# 4. prints a table: case, markcert parse/s, biip parse/s, ratio (and markcert normalize/s).
#
# biip is installed into benches/.venv (git-ignored) on the first run.
#
# Usage: benches/compare.sh [--quick] [-- extra criterion args]
#   --quick   parse group only, 0.5 s warm-up, 1 s measurement, fewer biip repetitions
# Environment: PYTHON (default python3) for creating the venv; CRITERION_ARGS to replace the default
#   `--warm-up-time 1 --measurement-time 3`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
codes="$here/data/codes.txt"
venv="$here/.venv"

quick=0
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--quick] [-- criterion args]" >&2; exit 2 ;;
    esac
done

if [[ $quick -eq 1 ]]; then
    crit_args=(--warm-up-time 0.5 --measurement-time 1)
    filter=(parse/)
    biip_args=(--repeat 3 --min-time 0.2)
else
    read -r -a crit_args <<<"${CRITERION_ARGS:---warm-up-time 1 --measurement-time 3}"
    filter=()
    biip_args=(--repeat 5 --min-time 0.5)
fi

# --- biip in a venv -------------------------------------------------------------------------------
if ! "$venv/bin/python" -c 'import biip' 2>/dev/null; then
    echo "== installing biip into $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check biip
fi

# --- criterion ------------------------------------------------------------------------------------
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
stamp="$(mktemp)"
trap 'rm -f "$stamp"' EXIT
sleep 1 # estimates written from now on are newer than the stamp
echo "== cargo bench -p markcert-benches --bench codes -- ${crit_args[*]} ${filter[*]} ${extra[*]}" >&2
(cd "$root" && cargo bench -p markcert-benches --bench codes -- \
    "${crit_args[@]}" "${filter[@]}" "${extra[@]}") >&2

# --- biip -----------------------------------------------------------------------------------------
echo "== $venv/bin/python $here/biip_bench.py --tsv ${biip_args[*]}" >&2
biip_tsv="$("$venv/bin/python" "$here/biip_bench.py" --tsv --codes "$codes" "${biip_args[@]}")"

# --- table ----------------------------------------------------------------------------------------
BIIP_TSV="$biip_tsv" "$venv/bin/python" - "$target_dir/criterion" "$stamp" "$codes" <<'PY'
import json, os, sys
from pathlib import Path

crit, stamp, codes = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
fresh_after = stamp.stat().st_mtime

def rates(group):
    """codes/s per case of a criterion group, from estimates written by this invocation."""
    out = {}
    for bench in (crit / group).glob("*/new/benchmark.json"):
        est = bench.with_name("estimates.json")
        if not est.exists() or est.stat().st_mtime < fresh_after:
            continue
        name = json.loads(bench.read_text())["value_str"]
        e = json.loads(est.read_text())
        typical = e.get("slope") or e["mean"]  # what criterion prints: slope if fitted, else mean
        out[name] = 1e9 / typical["point_estimate"]
    return out

parse, normalize = rates("parse"), rates("normalize")
biip = {}
for line in os.environ["BIIP_TSV"].splitlines():
    name, rate, status, detail = line.split("\t", 3)
    biip[name] = (float(rate), status, detail)

names = [l.split("\t", 1)[0] for l in codes.read_text().splitlines() if l.strip() and not l.startswith("#")]
fmt = lambda v: f"{v:,.0f}" if v is not None else "-"
header = ("case", "markcert parse/s", "biip parse/s", "ratio", "markcert normalize/s", "biip result")
rows = []
for n in names:
    m, (b, status, _detail) = parse.get(n), biip.get(n, (None, "missing", ""))
    ratio = f"{m / b:,.0f}x" if m and b else "-"
    rows.append((n, fmt(m), fmt(b), ratio, fmt(normalize.get(n)), status))
widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
line = lambda r: "  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
print()
print(line(header))
print(line(tuple("-" * w for w in widths)))
for r in rows:
    print(line(r))
odd = [(n, biip[n]) for n in names if n in biip and biip[n][1] != "ok"]
for n, (_, status, detail) in odd:
    print(f"note: biip on {n}: {status}: {detail}")
print("biip result: ok = read as a GS1 message (AIs split); no-gs1 = returned no GS1 message (timed anyway).")
PY
