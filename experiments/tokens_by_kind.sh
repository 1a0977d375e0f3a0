#!/usr/bin/env bash
# Mean tokens and PSNR per kind of clip, from the per-clip CSV of `evatok
# eval`: the kind is the end of the clip's file name after its last '-'
# (still, panslow, busy in data/make_motion_set.sh's set; still, panslow,
# panfast, ... in the corpus). Uniform rows are left out: they give every clip
# the same tokens. Block 1 and later: the mean tokens of the first block and
# of all later blocks (temporal blocks; per tile-clip, as in the CSV). With
# --clips, each clip's assignment is printed first.
#
#   experiments/tokens_by_kind.sh EVAL.csv [--clips]
set -euo pipefail
csv=${1:?usage: tokens_by_kind.sh EVAL.csv [--clips]}
[ -f "$csv" ] || { echo "no such file: $csv" >&2; exit 1; }
head -n 1 "$csv" | grep -q '^method,setting,clip,assignment,tokens,psnr' ||
  { echo "$csv is not a CSV written by evatok eval" >&2; exit 1; }
# rows: method, wq, clip name, kind, assignment, tokens, PSNR, block-1 tokens
rows() {
  awk -F, 'NR > 1 && $1 != "uniform" {
    n = split($3, p, "/"); name = p[n]; sub(/\.[^.]*$/, "", name); sub(/@.*/, "", name)
    kind = name; sub(/.*-/, "", kind); split($4, b, "-")
    print $1, $2, name, kind, $4, $5, $6, b[1] }' "$csv"
}
if [ "${2:-}" = --clips ]; then
  rows | sort -k1,1 -k2,2n -k3,3 | awk '{ printf "%-8s %-5s %-24s %-16s %4d tokens %6.2f dB\n", $1, $2, $3, $5, $6, $7 }'
  echo
fi
printf '%-8s %-5s %-10s %5s %7s %6s %8s %6s\n' method wq kind clips tokens PSNR block-1 later
rows | awk '{ k = $1 " " $2 " " $4; t[k] += $6; q[k] += $7; f1[k] += $8; c[k]++ }
  END { for (k in t) { split(k, f, " "); printf "%-8s %-5s %-10s %5d %7.1f %6.2f %8.1f %6.1f\n", f[1], f[2], f[3], c[k],
                       t[k] / c[k], q[k] / c[k], f1[k] / c[k], (t[k] - f1[k]) / c[k] } }' |
  sort -k1,1 -k2,2n -k3,3
