#!/bin/bash
# The training pipeline end to end on a tiny config (tests/training/tiny.json)
# and tiny clips made by ffmpeg: train-all (5 stages, exact labels), resume and
# skip on rerun, eval with CSV/PNG, data through libav (.mkv) and bad inputs.
#
#   pipeline.sh EVATOK_CLI FFMPEG
# Exit status: 0 pass, 1 fail.
set -u
E=$(realpath "${1:?usage: pipeline.sh EVATOK_CLI FFMPEG}")
FF=$(realpath "${2:?missing FFMPEG}")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# Tiny data: Y4M and an MPEG-4 .mkv (read through the system's libav).
mkdir -p data val
"$FF" -nostdin -loglevel error -f lavfi -i testsrc2=s=48x40:r=25 -frames:v 12 -pix_fmt yuv420p data/a.y4m
"$FF" -nostdin -loglevel error -f lavfi -i mandelbrot=s=40x40:r=25 -frames:v 12 -pix_fmt yuv420p data/b.y4m
"$FF" -nostdin -loglevel error -f lavfi -i life=s=64x48:r=50:seed=3 -frames:v 24 -c:v mpeg4 -q:v 2 data/c.mkv
"$FF" -nostdin -loglevel error -f lavfi -i gradients=s=40x40:r=25 -frames:v 10 -pix_fmt yuv420p val/d.y4m

run() { "$E" "$@" > "$W/log" 2>&1; }
# tiny.json with some keys replaced (JSON object in $1)
tiny_with() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j.update(json.loads(sys.argv[2])); print(json.dumps(j))' "$HERE/tiny.json" "$1"; }
for f in "$HERE"/recipe/*.json; do
  mkdir -p recipe
  # stage files name the tiny config by absolute path
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j.setdefault("config", sys.argv[2]) if "1-" in sys.argv[1] or "4-" in sys.argv[1] or "5-" in sys.argv[1] else None; print(json.dumps(j))' "$f" "$HERE/tiny.json" > recipe/$(basename "$f")
done
check "train-all runs every stage" 'run train-all --recipe recipe --data data --val val --work work --fps 25 --threads 1'
cat "$W/log" | grep -E "== train-all|labels:|router held-out|saved" | head -20
check "stage outputs exist" '[ -s work/proxy.safetensors ] && [ -s work/labels.safetensors ] && [ -s work/router.safetensors ] && [ -s work/final.safetensors ] && [ -s work/uniform.safetensors ]'
check "labels are exact" 'grep -q "exact (every assignment, shared prefixes)" "$W/log"'
check "final model has a router" 'run info work/final.safetensors && grep -q "router:      trained" "$W/log" && grep -q "router-assignment" "$W/log"'
check "uniform baseline kind" 'run info work/uniform.safetensors && grep -q "uniform-4" "$W/log"'
check "rerun skips finished stages" 'run train-all --recipe recipe --data data --val val --work work --fps 25 && grep -q "finished run" "$W/log" && grep -q "labels.safetensors exists; skipped" "$W/log"'
check "eval writes CSV and summary" 'run eval --model work/final.safetensors --data val --wq 0.5,2 --search exact --baseline work/uniform.safetensors --csv ev.csv --fps 25 && [ $(wc -l < ev.csv) -eq 8 ] && grep -q "^router,2," ev.summary.csv && grep -q "^search,0.5," ev.summary.csv && grep -q "^baseline,4," ev.summary.csv'
if command -v gnuplot > /dev/null; then
  check "eval draws the PNG" 'run eval --model work/final.safetensors --data val --csv ev.csv --png ev.png --search none && [ "$(head -c 4 ev.png | tail -c 3)" = PNG ]'
fi
check "ssim label metric" 'run label --init work/proxy.safetensors --data data --val val --labels l2.safetensors --label-clips 2 --val-clips 1 --quality ssim --separable && grep -q "metric ssim" "$W/log"'
# A TorchScript metric written without Python: the shipped MSE source, compiled.
# Its labels are checked against built-in MSE and PSNR labels of the same clips
# (mse_vs_psnr.py).
check "compile-metric builds the MSE metric" 'run compile-metric --source "$HERE/../../model_runtime/metrics/mse.torchscript" --out mse.pt && [ -s mse.pt ]'
check "label with a TorchScript metric" 'run label --init work/proxy.safetensors --data data --val val --labels lm.safetensors --label-clips 2 --val-clips 1 --quality torchscript:mse.pt --separable && grep -q "metric torchscript:mse.pt" "$W/log"'
check "built-in mse label metric" 'run label --init work/proxy.safetensors --data data --val val --labels lb.safetensors --label-clips 2 --val-clips 1 --quality mse --separable && grep -q "metric mse" "$W/log"'
check "TorchScript MSE labels agree with built-in MSE and PSNR labels" 'run label --init work/proxy.safetensors --data data --val val --labels lp.safetensors --label-clips 2 --val-clips 1 --separable && python3 "$HERE/mse_vs_psnr.py" lm.safetensors lb.safetensors lp.safetensors 2 2'
printf 'def forward(self, rec: Tensor, ref: Tensor) -> Tensor:\n    return rec - \n' > broken.torchscript
printf 'def forward(self, rec: Tensor, ref: Tensor) -> Tensor:\n    return (rec - ref).abs()\n' > shape.torchscript
printf 'def forward(self, rec: Tensor, ref: Tensor) -> Tensor:\n    return (rec - ref).sum([1, 2, 3, 4]) / 0.0 * 0.0\n' > nan.torchscript

# Warm start into a config with temporal carry: the carry modules' weights
# and biases are the only new tensors; the result loads, evaluates and searches.
tiny_with '{"temporal_carry": true, "name": "evatok-test-carry"}' > carry.json
check "warm start adds the carry gate" 'run train-tokenizer --init work/proxy.safetensors --config carry.json --data data --out carry.st --steps 2 --batch 2 --fps 25 --threads 1 && grep -q "4 tensors new or reshaped" "$W/log" && grep -q "new: decoder.carry_head.weight" "$W/log" && grep -q "new: decoder.carry_match.weight" "$W/log"'
# Warm start into a wider pixel head: the old channels are copied, the new
# ones start cut off from the output, so the decoder draws the same pictures.
tiny_with '{"head_channels": 8, "name": "evatok-test-wide"}' > wide.json
check "warm start widens the pixel head, same pictures" 'run train-tokenizer --init work/proxy.safetensors --config wide.json --data data --out wide.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "0 tensors new or reshaped" "$W/log" && grep -qE "pixel head widened from 4 to 8 channels; largest change to its pictures (0|[0-9.]+e-(0[5-9]|[1-9][0-9]))$" "$W/log"'
# Warm start into a deeper encoder and decoder: the new layers start as the identity.
tiny_with '{"enc_layers": 2, "dec_layers": 2, "name": "evatok-test-deep"}' > deep.json
check "warm start deepens encoder and decoder, same pictures" 'run train-tokenizer --init work/proxy.safetensors --config deep.json --data data --out deep.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "new: decoder.layers.1.mlp.fc2.weight" "$W/log" && grep -q "new: encoder.layers.1.mlp.fc2.weight" "$W/log" && ! grep -q "new: [a-z]*coder.layers.0" "$W/log" && grep -qE "encoder deepened from 1 to 2 layers, decoder deepened from 1 to 2 layers; largest change to its pictures (0|[0-9.]+e-(0[5-9]|[1-9][0-9]))$" "$W/log"'
check "fine-tune of a finished model is a new run" 'run train-tokenizer --init work/proxy.safetensors --data data --out ft.st --steps 2 --batch 2 --fps 25 --threads 1 && grep -q "fine-tuning work/proxy" "$W/log" && grep -q "step 2/2" "$W/log" && run info ft.st && grep -q "fine_tune_of" "$W/log"'
check "train-all --config replaces the tokenizer config" 'run train-all --recipe recipe --data data --val val --work work-carry --only 1 --config carry.json --fps 25 --threads 1 && run info work-carry/proxy.safetensors && grep -q "name: *evatok-test-carry" "$W/log"'
check "search warns about a proxy without reward statistics" 'run eval --model carry.st --data val --wq 1 --search separable --fps 25 && grep -q "no reward statistics" "$W/log"'
check "carry model evaluates with exact search on the final model's reward scale" 'run eval --model carry.st --data val --wq 1 --search exact --csv carry.csv --fps 25 --reward-from work/final.safetensors --threads 1 && grep -q "reward statistics of work/final" "$W/log" && ! grep -q "no reward statistics" "$W/log" && grep -q "^search,1," carry.summary.csv'

# Bad inputs: clear errors, non-zero exit, no crash.
bad() { run "$@"; local rc=$?; [ $rc -eq 1 ] && grep -q "^evatok" "$W/log"; }
# Inter packets: a step may continue the clip's previous 16 frames, the
# decoder's first block carrying from their reconstruction (clips shorter than
# two clips fall back to the frames before them, here the first).
check "--inter-carry fine-tunes a carry model from previous packets" 'run train-tokenizer --init carry.st --data data --out inter.st --steps 2 --batch 2 --inter-carry 1 --fps 25 --threads 1 && run info inter.st && grep -q "train.inter_carry *1.0" "$W/log"'
check "--inter-carry needs temporal carry, and a share in 0..1" 'bad train-tokenizer --init work/proxy.safetensors --data data --out ix.st --steps 2 --batch 2 --inter-carry 0.5 --fps 25 && grep -q "needs a model with temporal carry" "$W/log" && bad train-tokenizer --init carry.st --data data --out ix.st --steps 2 --inter-carry 2 --fps 25 && grep -q "inter-carry must be between 0 and 1" "$W/log" && [ ! -e ix.st ]'
echo "not a model" > junk.safetensors
fpr() { run info "$1" && grep "^$2:" "$W/log" | cut -d' ' -f"$3"; }
check "a trained router changes the fingerprint, not the codec fingerprint" '[ "$(fpr work/proxy.safetensors "codec fingerprint" 3)" = "$(fpr work/router.safetensors "codec fingerprint" 3)" ] && [ "$(fpr work/proxy.safetensors fingerprint 2)" != "$(fpr work/router.safetensors fingerprint 2)" ]'
check "a stream decodes with a model that differs only in its router" '"$FF" -nostdin -loglevel error -y -i data/a.y4m -c:v evatok -model work/router.safetensors rt.mkv && "$FF" -nostdin -loglevel error -model work/proxy.safetensors -i rt.mkv -f null - && ! "$FF" -nostdin -loglevel error -model work/final.safetensors -i rt.mkv -f null - 2>/dev/null'
# Stage 6: entropy tables in the final model; the codec fingerprint stays, v2
# packets code with them, and v1 (-bitstream 1) decodes to the same frames.
check "stage 6 adds entropy tables, codec fingerprint kept" 'run info work/final.safetensors && grep -q "^entropy tables: [0-9a-f]\{32\}" "$W/log" && run info work/router.safetensors && grep -q "^entropy tables: none" "$W/log"'
check "entropy-tables reports each context and keeps the codec fingerprint" 'run entropy-tables --model work/router.safetensors --data data --out et.st --clips 12 --wq 1 --fps 25 --threads 1 && grep -q "previous block.s co-located" "$W/log" && [ "$(fpr et.st "codec fingerprint" 3)" = "$(fpr work/router.safetensors "codec fingerprint" 3)" ] && [ "$(fpr et.st fingerprint 2)" != "$(fpr work/router.safetensors fingerprint 2)" ]'
check "entropy-tables: bad options refused" 'bad entropy-tables --model work/router.safetensors --data data --out ex.st --clips 3 && grep -q "clips must be at least 10" "$W/log" && bad entropy-tables --model work/router.safetensors --data data --out ex.st --wq -1 && grep -q "rates must be in" "$W/log" && [ ! -e ex.st ]'
check "v2 with tables and v1 decode to identical frames" '"$FF" -nostdin -loglevel error -y -i data/a.y4m -c:v evatok -model et.st v2.mkv && "$FF" -nostdin -loglevel error -y -i data/a.y4m -c:v evatok -model et.st -bitstream 1 v1.mkv && "$FF" -nostdin -loglevel error -model et.st -i v2.mkv -f framemd5 v2.md5 && "$FF" -nostdin -loglevel error -model et.st -i v1.mkv -f framemd5 v1.md5 && diff <(grep -v "^#" v1.md5) <(grep -v "^#" v2.md5) > /dev/null'
check "a v2 stream names its tables: a model with other tables refuses it" '! "$FF" -nostdin -loglevel error -model work/router.safetensors -i v2.mkv -f null - 2> et.log && grep -q "entropy-coded with tables" et.log && "$FF" -nostdin -loglevel error -model work/router.safetensors -i v1.mkv -f null -'
check "fine-tuning drops the tables" 'run train-tokenizer --init et.st --data data --out ftt.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "entropy tables are dropped" "$W/log" && run info ftt.st && grep -q "^entropy tables: none" "$W/log"'
# set-router: stage 4 adopted work/router's router, so putting it into the
# final model again gives the same file fingerprint; into the baseline, it keeps
# the baseline's codec fingerprint and makes it routable.
check "set-router reproduces stage 4's adoption" 'run set-router --model work/final.safetensors --router work/router.safetensors --out sr.st && [ "$(fpr sr.st fingerprint 2)" = "$(fpr work/final.safetensors fingerprint 2)" ]'
check "set-router gives the baseline a router" 'run set-router --model work/uniform.safetensors --router work/router.safetensors --out su.st && [ "$(fpr su.st "codec fingerprint" 3)" = "$(fpr work/uniform.safetensors "codec fingerprint" 3)" ] && run info su.st && grep -q "router:      trained" "$W/log" && grep -q "train.router_from" "$W/log"'
check "set-router refuses a model without a router" 'bad set-router --model work/final.safetensors --router work/proxy.safetensors --out sx.st && grep -q "has no trained router" "$W/log" && [ ! -e sx.st ]'
check "set-router needs its files" 'bad set-router --model work/final.safetensors --out sx.st && grep -q "needs --model, --router and --out" "$W/log"'
check "router refuses labels of another tokenizer" 'bad train-router --init work/uniform.safetensors --labels work/labels.safetensors --data data --val val --out x.st && grep -q "another tokenizer" "$W/log"'
check "router refuses a non-labels file" 'bad train-router --init work/proxy.safetensors --labels work/proxy.safetensors --data data --val val --out x.st && grep -q "not a labels file" "$W/log"'
check "unknown quality metric" 'bad label --init work/proxy.safetensors --data data --val val --labels x.st --quality lpips && grep -q "unknown quality metric" "$W/log"'
check "metric source that does not compile" 'bad compile-metric --source broken.torchscript --out b.pt && grep -q "does not compile as TorchScript" "$W/log" && [ ! -e b.pt ]'
check "metric with one value per pixel refused" 'bad compile-metric --source shape.torchscript --out b.pt && grep -q "one distance per clip" "$W/log" && [ ! -e b.pt ]'
check "metric returning NaN refused" 'bad compile-metric --source nan.torchscript --out b.pt && grep -q "non-finite" "$W/log" && [ ! -e b.pt ]'
check "compile-metric: missing source" 'bad compile-metric --source nope.torchscript --out b.pt && grep -q "cannot read nope.torchscript" "$W/log"'
check "bad torchscript metric" 'bad label --init work/proxy.safetensors --data data --val val --labels x.st --quality torchscript:junk.safetensors && grep -q "TorchScript" "$W/log"'
check "stage 4 needs a router" 'bad train-tokenizer --config "$HERE/tiny.json" --router work/uniform.safetensors --data data --out y.st --steps 1 && grep -q "no trained router" "$W/log"'
check "missing recipe stage" 'mkdir -p r2 && bad train-all --recipe r2 --data data --val val --work w2 && grep -q "is missing" "$W/log"'
check "unknown stage in --only" 'bad train-all --recipe recipe --data data --val val --work w3 --only 1,7 && grep -q "stage numbers 1 to 6, not .7." "$W/log" && [ ! -e w3/proxy.safetensors ]'
# Option names and values: a misspelt option or a bad number is refused, also
# inside a recipe, where every stage file is checked before stage 1 starts.
check "unknown option refused" 'bad train-tokenizer --config "$HERE/tiny.json" --data data --out u.st --stpes 1 && grep -q "unknown option --stpes" "$W/log" && [ ! -e u.st ]'
check "option of another command refused" 'bad eval --model work/final.safetensors --data val --steps 3 && grep -q "unknown option --steps" "$W/log"'
check "number checked in full" 'bad eval --model work/final.safetensors --data val --clips 3x && grep -q "clips = 3x" "$W/log"'
check "stray argument refused" 'bad eval work/final.safetensors --data val && grep -q "unexpected argument" "$W/log"'
mkdir -p r4 && cp recipe/*.json r4/ && sed -i "s/\"batch\"/\"bacth\"/" r4/4-final.json
check "recipe typo found before stage 1" 'bad train-all --recipe r4 --data data --val val --work w4 && grep -q "r4/4-final.json: unknown option --bacth" "$W/log" && [ ! -e w4 ]'
mkdir -p r5 && cp recipe/*.json r5/ && python3 -c 'import json; j=json.load(open("r5/5-uniform.json")); j["router-mix"]=1.5; json.dump(j, open("r5/5-uniform.json", "w"))'
check "recipe value out of range found before stage 1" 'bad train-all --recipe r5 --data data --val val --work w7 && grep -q "r5/5-uniform.json: --router-mix must be between 0 and 1" "$W/log" && [ ! -e w7 ]'
check "train-all --check" 'run train-all --recipe recipe --data data --val val --work w5 --check && grep -q "complete and valid" "$W/log" && [ ! -e w5 ]'
check "zero log interval refused, not a crash" 'bad train-tokenizer --config "$HERE/tiny.json" --data data --out l0.st --steps 1 --log-every 0 && grep -q "must be at least 1" "$W/log" && [ ! -e l0.st ]'
check "negative steps refused" 'bad train-tokenizer --config "$HERE/tiny.json" --data data --out l1.st --steps -1 && grep -q "must be at least 1" "$W/log" && [ ! -e l1.st ]'
check "NaN learning rate refused" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out l2.st --lr nan && grep -q "lr must be a positive number" "$W/log"'
check "mean-colour loss recorded" 'run train-tokenizer --config "$HERE/tiny.json" --data data --out ml.st --steps 1 --batch 2 --mean-loss 2 --fps 25 --threads 1 && run info ml.st && grep -q "train.mean_loss *2.0" "$W/log"'
# st_meta.py FILE KEY VALUE: sets one metadata entry of a safetensors file (to fake an unfinished run).
cat > st_meta.py <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
h['__metadata__'][sys.argv[2]] = sys.argv[3]; t = json.dumps(h).encode()
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(t)) + t + b[8 + n:])
PY
# --ema: the file holds the average of the weights (so not the last step's), the
# raw weights resume from the .optim file (train.done cleared so that the run resumes).
check "--ema saves the average, not the last weights" 'run train-tokenizer --config "$HERE/tiny.json" --data data --out na.st --steps 3 --batch 2 --fps 25 --threads 1 --seed 3 && run train-tokenizer --config "$HERE/tiny.json" --data data --out ea.st --steps 3 --batch 2 --fps 25 --threads 1 --seed 3 --ema 0.99 && run info ea.st && grep -q "train.ema *0.99" "$W/log" && [ "$(fpr na.st fingerprint 2)" != "$(fpr ea.st fingerprint 2)" ]'
check "--ema resumes the raw weights" 'python3 st_meta.py ea.st train.done 0 && run train-tokenizer --config "$HERE/tiny.json" --data data --out ea.st --steps 5 --batch 2 --fps 25 --threads 1 --seed 3 --ema 0.99 && grep -q "resuming the raw weights from ea.st.optim" "$W/log" && grep -q "step 5/5" "$W/log"'
check "--ema out of range" 'bad train-tokenizer --config "$HERE/tiny.json" --data data --out ex.st --steps 1 --ema 1 --fps 25 && grep -q "ema must be 0 (off) or in \[0.5, 1)" "$W/log" && [ ! -e ex.st ]'
check "mean-colour loss out of range" 'bad train-tokenizer --config "$HERE/tiny.json" --data data --out ml2.st --steps 1 --mean-loss -1 --fps 25 && grep -q "mean-loss must be between 0 and 100" "$W/log"'
check "router mix out of range" 'bad train-tokenizer --config "$HERE/tiny.json" --router work/final.safetensors --router-mix 2 --data data --out l3.st --steps 1 && grep -q "router-mix must be between 0 and 1" "$W/log"'
check "eval: wq must be positive" 'bad eval --model work/final.safetensors --data val --wq 1,-2 && grep -q "wq values must be positive" "$W/log"'
run init-ar --tokenizer work/final.safetensors --out ar0.st --dim 16 --layers 1 --heads 2
check "eval-ar: sampling options checked" 'bad eval-ar --tokenizer work/final.safetensors --ar ar0.st --data val --top-p 2 && grep -q "top_p 2 not in (0, 1]" "$W/log"'
check "eval-ar: clip count checked" 'bad eval-ar --tokenizer work/final.safetensors --ar ar0.st --data val --clips 0 && grep -q "clips and --val-samples must be at least 1" "$W/log"'
check "bench-ar: run count checked" 'bad bench-ar --tokenizer work/final.safetensors --ar ar0.st --runs 0 && grep -q "runs must be at least 1" "$W/log"'
ROOT=$(cd "$HERE/../.." && pwd)
for r in "$ROOT"/recipes/*/; do
  r=recipes/$(basename "$r")
  check "checked-in $r is valid" '(cd "$ROOT" && "$E" train-all --recipe '"$r"' --data "$W/data" --val "$W/val" --work "$W/w6" --check > "$W/log" 2>&1) && [ ! -e w6 ]'
done
mkdir -p corrupt && head -c 3000 /dev/urandom > corrupt/x.mp4
check "corrupt video" 'bad eval --model work/final.safetensors --data corrupt && grep -q "corrupt/x.mp4" "$W/log"'
check "empty data folder" 'mkdir -p empty && bad eval --model work/final.safetensors --data empty && grep -q "no videos" "$W/log"'
check "label batch validated" 'bad label --init work/proxy.safetensors --data data --val val --labels x.st --label-batch 0 && grep -q "at least 1" "$W/log"'
tiny_with '{"choices": [8, 4]}' > other-choices.json
run init --config other-choices.json --out other-choices.st
tiny_with '{"enc_dim": 48, "dec_dim": 48, "router_dim": 48, "stem_channels": 6, "head_channels": 6, "code_dim": 6, "codebook_size": 32, "mlp_ratio": 3}' > other.json
check "warm start shares nothing" 'bad train-tokenizer --init work/proxy.safetensors --config other.json --data data --out z.st --steps 1 --fps 25 && grep -q "not a warm start" "$W/log"'
check "reward statistics of other choices refused" 'bad eval --model work/final.safetensors --data val --reward-from "$W/other-choices.st" && grep -q "other choices or blocks" "$W/log"'
check "eval scores fixed assignments" 'run eval --model work/final.safetensors --data val --fixed 16-4,4-16 --search none --csv fx.csv --fps 25 && grep -q "^fixed,16-4,1," fx.summary.csv && grep -q "^fixed,4-16,1," fx.summary.csv && grep -q "^fixed,16-4,.*,16-4,20," fx.csv'
check "fixed assignment: unknown count" 'bad eval --model work/final.safetensors --data val --fixed 16-5 && grep -q "5. is not a token count" "$W/log"'
check "fixed assignment: wrong block count" 'bad eval --model work/final.safetensors --data val --fixed 16-4-4 && grep -q "give 2 counts" "$W/log"'
check "eval takes evenly spaced windows of each video" 'run eval --model work/final.safetensors --data data --clips-per-video 3 --clips 7 --search none --wq 1 --csv cpv.csv --fps 25 && grep -q "^uniform,4,7," cpv.summary.csv && grep -q "data/a.y4m@0," cpv.csv && grep -q "data/a.y4m@4," cpv.csv && ! grep -q "data/c.mkv@2," cpv.csv'
check "eval refuses zero clips per video" 'bad eval --model work/final.safetensors --data val --clips-per-video 0 && grep -q "clips-per-video must be at least 1" "$W/log"'
check "router with soft targets over a wider wq range" 'run train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out soft.st --steps 2 --batch 2 --router-temp 0.5 --wq-max 4 --fps 25 --threads 1 && grep -q "^  wq 4.0: router .* tokens Q " "$W/log" && run info soft.st && grep -q "train.router_wq_range *0.3..4" "$W/log" && grep -q "train.router_temp *0.5" "$W/log"'
check "stage 4 routes over its router's wq range" 'run train-tokenizer --config "$HERE/tiny.json" --router soft.st --data data --out s4.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "router of soft.st at wq 0.3..4 " "$W/log" && run train-tokenizer --config "$HERE/tiny.json" --router work/router.safetensors --data data --out r4.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "at wq 0.3..2.5 " "$W/log"'
check "router refuses a negative temperature" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out x.st --router-temp -1 --fps 25 && grep -q "router-temp must be" "$W/log"'
check "router refuses a wq range below its start" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out x.st --wq-max 0.2 --fps 25 && grep -q "wq-max must be above" "$W/log"'
check "router that sees motion: new router, same codec" 'run train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out motion.st --steps 2 --batch 2 --router-input motion --fps 25 --threads 1 && grep -q "router input: motion, target: assignment (a new router)" "$W/log" && run info motion.st && grep -q "router:      trained (input: motion, predicts: assignment)" "$W/log" && [ "$(fpr work/proxy.safetensors "codec fingerprint" 3)" = "$(fpr motion.st "codec fingerprint" 3)" ]'
check "a motion router encodes a stream the proxy decodes" '"$FF" -nostdin -loglevel error -y -i data/a.y4m -c:v evatok -model motion.st mo.mkv && "$FF" -nostdin -loglevel error -model work/proxy.safetensors -i mo.mkv -f null -'
check "stage 4 takes the motion router's shape" 'run train-tokenizer --config "$HERE/tiny.json" --router motion.st --data data --out m4.st --steps 1 --batch 2 --fps 25 --threads 1 && run info m4.st && grep -q "router:      trained (input: motion," "$W/log"'
check "router input validated" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out x.st --router-input edges --fps 25 && grep -q "router-input: edges not in {pixels,motion,stats}" "$W/log" && [ ! -e x.st ]'
# A quality router predicts every assignment's z(Q) and picks by the reward,
# so for each clip the tokens it gives can only grow with wq (any wq).
# (Here it also sees patch statistics, --router-input stats.)
check "quality router: new router, any wq" 'run train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out qr.st --steps 3 --batch 2 --router-input stats --router-target quality --fps 25 --threads 1 && grep -q "router input: stats, target: quality (a new router)" "$W/log" && run info qr.st && grep -q "trained (input: stats, predicts: quality)" "$W/log" && grep -q "train.router_wq_range *any" "$W/log"'
check "stage 4 with a quality router takes --wq-max" 'run train-tokenizer --config "$HERE/tiny.json" --router qr.st --wq-max 6 --data data --out q4.st --steps 1 --batch 2 --fps 25 --threads 1 && grep -q "router of qr.st at wq 0.3..6 " "$W/log"'
check "quality router: tokens grow with wq for every clip" 'run set-router --model work/final.safetensors --router qr.st --out qf.st && run eval --model qf.st --data data --clips-per-video 2 --wq 0.05,0.5,2,8,64 --search none --csv qr.csv --fps 25 && python3 "$HERE/tokens_grow_with_wq.py" qr.csv'
printf 'method,setting,clip,assignment,tokens,psnr,ssim\nrouter,1,x,16-4,20,20,0.5\nrouter,2,x,4-4,8,19,0.4\n' > falls.csv
check "tokens_grow_with_wq.py finds tokens that fall" '! python3 "$HERE/tokens_grow_with_wq.py" falls.csv 2> falls.err && grep -q "x: tokens fall as wq rises" falls.err'
check "quality router: the codec routes with it" '"$FF" -nostdin -loglevel error -y -i data/a.y4m -c:v evatok -model qf.st -wq 3 qr.mkv && "$FF" -nostdin -loglevel error -model work/final.safetensors -i qr.mkv -f null -'
check "quality router refuses a temperature" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out x.st --router-target quality --router-temp 0.5 --fps 25 && grep -q "a quality router has none" "$W/log" && [ ! -e x.st ]'
check "router target validated" 'bad train-router --init work/proxy.safetensors --labels work/labels.safetensors --data data --val val --out x.st --router-target tokens --fps 25 && grep -q "router-target: tokens not in {assignment,quality}" "$W/log" && [ ! -e x.st ]'
# A router trained for another clip geometry (16x16) is refused by set-router.
# 4 choices over 16 blocks: 2^32 assignments, which wrapped to 0 in an int
tiny_with '{"clip_frames": 64, "choices": [16, 8, 4, 2]}' > wrap.json
check "assignment count cannot wrap around" 'bad init --config wrap.json --out wrap.st && grep -q "too many candidate assignments" "$W/log" && [ ! -e wrap.st ]'
tiny_with '{"clip_height": 16, "clip_width": 16}' > small-geom.json
check "set-router refuses a router of another geometry" 'run init --config small-geom.json --out sg.st && run label --init sg.st --data data --val val --labels sg-l.st --label-clips 2 --val-clips 1 --separable --fps 25 && run train-router --init sg.st --labels sg-l.st --data data --val val --out sg-r.st --steps 1 --batch 2 --fps 25 --threads 1 && bad set-router --model work/final.safetensors --router sg-r.st --out sx.st && grep -q "another clip geometry" "$W/log" && [ ! -e sx.st ]'
tiny_with '{"router_input": "edges"}' > bad-router.json
check "config router_input validated" 'bad init --config bad-router.json --out x.st && grep -q "router_input (train-router --router-input) must be pixels, motion or stats" "$W/log"'
# Labels: a run asking for more clips reuses an earlier run's; an interrupted run resumes from L.part.
# st.py FILE: prints "rows, first quality value, metadata keys"; st_meta.py (above) marks a .part file.
cat > st.py <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
q = h['quality']; o = 8 + n + q['data_offsets'][0]
print(q['shape'][0], round(struct.unpack('<f', b[o:o + 4])[0], 4), ','.join(sorted(h)))
PY
lab() { run label --init work/proxy.safetensors --data data --val val --fps 25 --threads 1 --label-batch 3 --val-clips 1 "$@"; }
check "labels extend an earlier run" 'lab --labels l4.st --label-clips 4 && lab --labels l6.st --label-clips 6 --reuse-labels l4.st && grep -q "reused: 4 of 6 training and 1 of 1 held-out" "$W/log" && [ "$(python3 st.py l6.st | cut -d" " -f1,2)" = "6 $(python3 st.py l4.st | cut -d" " -f2)" ] && python3 st.py l6.st | grep -q val_specs && [ ! -e l6.st.part ]'
check "extended labels train a router" 'run train-router --init work/proxy.safetensors --labels l6.st --data data --val val --out l6r.st --steps 2 --batch 2 --fps 25 --threads 1'
check "labels resume from L.part" 'cp l4.st r6.st.part && python3 st_meta.py r6.st.part labels.partial 1 && lab --labels r6.st --label-clips 6 && grep -q "resuming from r6.st.part" "$W/log" && grep -q "reused: 4 of 6" "$W/log" && [ "$(python3 st.py r6.st | cut -d" " -f1)" = 6 ] && [ ! -e r6.st.part ]'
check "a part file of other labels is not resumed" 'cp l4.st s6.st.part && lab --labels s6.st --label-clips 6 --quality ssim && grep -q "not resuming from s6.st.part: made with metric psnr" "$W/log" && ! grep -q "reused:" "$W/log"'
check "a truncated part file is scored anew" 'head -c 100 l4.st > t6.st.part && lab --labels t6.st --label-clips 6 && grep -q "not resuming from t6.st.part" "$W/log" && [ "$(python3 st.py t6.st | cut -d" " -f1)" = 6 ] && [ ! -e t6.st.part ]'
check "held-out rows are reused across training folders" 'mkdir -p data2 && ln -sf "$W"/data/a.y4m "$W"/data/b.y4m data2/ && run label --init work/proxy.safetensors --data data2 --val val --fps 25 --threads 1 --label-batch 3 --val-clips 1 --labels d2.st --label-clips 3 --reuse-labels l4.st && grep -q "another training folder: only its held-out rows" "$W/log" && grep -q "reused: 0 of 3 training and 1 of 1 held-out" "$W/log" && [ "$(python3 st.py d2.st | cut -d" " -f1)" = 3 ]'
check "reuse refuses labels of another metric" 'bad label --init work/proxy.safetensors --data data --val val --fps 25 --labels x.st --label-clips 6 --quality ssim --reuse-labels l4.st && grep -q "reuse-labels l4.st: made with metric psnr" "$W/log" && [ ! -e x.st ]'
check "router refuses an unfinished labels file" 'cp l4.st p4.st && python3 st_meta.py p4.st labels.partial 1 && bad train-router --init work/proxy.safetensors --labels p4.st --data data --val val --out x.st --fps 25 && grep -q "unfinished label run" "$W/log"'
check "info describes a labels file" 'run info l6.st && grep -q "^training clips: 6$" "$W/log" && grep -q "^held-out clips: 1$" "$W/log" && grep -q "^metric: *psnr, exact" "$W/log" && run info p4.st && grep -q "unfinished" "$W/log"'
LBK="$HERE/../../experiments/labels_by_kind.py"
check "labels_by_kind sums a labels file by kind" 'python3 "$LBK" l6.st data --choices 16,4 --wq 2 > lbk.txt && grep -q "^wq 2 wl 0.8" lbk.txt && [ "$(awk "NR > 2 { n += \$2 } END { print n }" lbk.txt)" = 6 ]'
check "labels_by_kind --held-out sums the held-out table" 'python3 "$LBK" l6.st val --choices 16,4 --held-out > lbk2.txt && [ "$(awk "NR > 2 { n += \$2 } END { print n }" lbk2.txt)" = 1 ] && grep -q "later tokens" lbk2.txt'
check "labels_by_kind refuses another folder and wrong choices" '! python3 "$LBK" l6.st val --choices 16,4 2> e1.txt && grep -q "the labels were made from 3 videos" e1.txt && ! python3 "$LBK" l6.st data 2> e2.txt && grep -q "pass --choices" e2.txt'
check "search option validated" 'bad eval --model work/final.safetensors --data val --search fast && grep -q "search: fast not in {none,separable,exact}" "$W/log"'
exit $fail
