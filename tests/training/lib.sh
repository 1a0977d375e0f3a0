# Shared by the training test scripts (sourced after their arguments are read):
# a fresh work folder W, removed on exit, as the current folder; and
# check NAME CONDITION, which prints ok/FAIL and sets fail=1 when CONDITION fails.
W=$(mktemp -d "${TMPDIR:-/tmp}/evatok-test.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
