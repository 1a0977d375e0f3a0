#!/usr/bin/env bash
# Encode/decode speed and peak memory of the evatok codec through the built
# ffmpeg, on testsrc2 clips at 128x128 and 320x240 (96 frames each); then, per
# size, what the network achieves against this machine's GEMM peak through the
# C API (`evatok bench`: FLOPs per tile-clip, GFLOP/s, fraction of the peak,
# time to the first decoded packet), and Debian's x264 and x265 (medium) on the
# same input when the system's ffmpeg has them (apt-get install ffmpeg).
#
#   scripts/bench.sh [BUILD_DIR] [extra encoder options, e.g. -assign uniform -tokens 64]
# Prints one line per size: encode fps, decode fps, peak RSS of each process.
# Environment: EVATOK_MODEL (model), EVATOK_BENCH_THREADS (-threads of both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
ff=$build/ffmpeg_build/ffmpeg
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
frames=96
threads=${EVATOK_BENCH_THREADS:+-threads $EVATOK_BENCH_THREADS}
sysff=$(command -v ffmpeg 2>/dev/null || true)
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
  read -r te me < <(run "$ff" -nostdin -v error -y -i "$tmp/in.y4m" -c:v evatok $threads "$@" "$tmp/out.mkv")
  read -r td md < <(run "$ff" -nostdin -v error -y $threads -i "$tmp/out.mkv" -f null -)
  awk -v s=$size -v n=$frames -v te=$te -v td=$td -v me=$me -v md=$md \
    'BEGIN { printf "%-8s encode %6.1f fps (%4.0f MiB peak)   decode %6.1f fps (%4.0f MiB peak)\n", s, n / te, me, n / td, md }'
  # A player's start: ffmpeg up to the first decoded frame, against ffmpeg
  # doing nothing (loading its libraries, LibTorch among them).
  read -r t1 _ < <(run "$ff" -nostdin -v error -y $threads -i "$tmp/out.mkv" -frames:v 1 -f null -)
  read -r t0 _ < <(run "$ff" -nostdin -v error -version)
  awk -v t1=$t1 -v t0=$t0 'BEGIN { printf "         first frame: ffmpeg -frames:v 1 takes %.3f s, ffmpeg -version %.3f s\n", t1, t0 }'
  "$build/tools/evatok" bench --video "$tmp/in.y4m" ${EVATOK_MODEL:+--model "$EVATOK_MODEL"} \
    ${EVATOK_BENCH_THREADS:+--threads $EVATOK_BENCH_THREADS} | sed 's/^/    /'
  if [ -n "$sysff" ] && [ "$sysff" != "$ff" ]; then
    for enc in libx264 libx265; do
      help=$("$sysff" -hide_banner -h encoder=$enc 2>/dev/null || true)
      [[ $help == "Encoder $enc"* ]] || continue
      read -r tx mx < <(run "$sysff" -nostdin -v error -y -i "$tmp/in.y4m" -c:v $enc -preset medium "$tmp/x.mkv")
      read -r tdx mdx < <(run "$sysff" -nostdin -v error -y -i "$tmp/x.mkv" -f null -)
      awk -v e=$enc -v n=$frames -v t=$tx -v d=$tdx -v b=$(stat -c %s "$tmp/x.mkv") \
        'BEGIN { printf "    %s (medium, system ffmpeg): encode %6.1f fps, decode %6.1f fps, %d bytes\n", e, n / t, n / d, b }'
    done
  fi
done
