#!/usr/bin/env bash
# Encode/decode speed and peak memory of the evatok codec through the built
# ffmpeg, on testsrc2 clips at 128x128 and 320x240 (96 frames each).
#
#   scripts/bench.sh [BUILD_DIR] [extra encoder options, e.g. -assign uniform -tokens 64]
# Prints one line per size: encode fps, decode fps, peak RSS of each process.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
ff=$build/ffmpeg_build/ffmpeg
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
frames=96
# run CMD...: prints "seconds peak_rss_MiB" of CMD (python3 stdlib only)
run() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.monotonic() - t
if r.returncode:
    sys.stderr.write(r.stderr.decode()[-2000:]); sys.exit(r.returncode)
print(f"{dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "model: ${EVATOK_MODEL:-default}; encoder options: ${*:-(defaults)}"
for size in 128x128 320x240; do
  "$ff" -nostdin -v error -y -f lavfi -i "testsrc2=s=$size:r=25" -frames:v $frames -pix_fmt yuv420p "$tmp/in.y4m"
  read -r te me < <(run "$ff" -nostdin -v error -y -i "$tmp/in.y4m" -c:v evatok "$@" "$tmp/out.mkv")
  read -r td md < <(run "$ff" -nostdin -v error -y -i "$tmp/out.mkv" -f null -)
  awk -v s=$size -v n=$frames -v te=$te -v td=$td -v me=$me -v md=$md \
    'BEGIN { printf "%-8s encode %6.1f fps (%4.0f MiB peak)   decode %6.1f fps (%4.0f MiB peak)\n", s, n / te, me, n / td, md }'
done
