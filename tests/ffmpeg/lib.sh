# Shared helpers of the end-to-end test scripts (sourced). Needs FFMPEG,
# FFPROBE and TMO (seconds per command) set; defines failures, fail, ok, die,
# run, ff, fp, nb_frames, pts_list, ge.
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok()   { echo "ok:   $*"; }
die()  { echo "FAIL: $*"; exit 1; }

# run LOG CMD...: runs under a timeout with output in LOG; a hang or a signal
# (crash) is always a failure; returns the command's exit status otherwise.
run() {
    local log=$1; shift
    timeout -k 10 "$TMO" "$@" >"$log" 2>&1
    local rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "timed out after ${TMO}s: $*"; tail -n 5 "$log"
    elif [ $rc -ge 128 ]; then
        fail "killed by signal $((rc - 128)) (crash): $*"; tail -n 20 "$log"
    fi
    return $rc
}
ff()  { local log=$1; shift; run "$log" "$FFMPEG" -nostdin -hide_banner -y "$@"; }
fp()  { "$FFPROBE" -v error "$@" 2>/dev/null; }   # metadata queries only
nb_frames() { fp -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
pts_list()  { fp -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$1"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !((a == "inf") || (a + 0 >= b + 0)) }'; }
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
