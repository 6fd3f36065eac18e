#!/usr/bin/env bash
# The GPU check of issue "GPU first", in one command (on a machine with a GPU and the kit's wheels):
#   make gpu-kit                                       # here: ../shared/gpu/prepare.sh, then this file as .gpu/check.sh
#   LOG_DIR=$OUT BUDGET=450 bash .gpu/check.sh 2>&1 | tee $OUT/gpu.log     # there, from the project's root
# In order of priority, each under its own timeout inside BUDGET seconds, one JSON line per result:
#   1. the test fixture: a small run trained on CUDA, copied to $LOG_DIR/cuda_run (commit it as
#      tests/fixtures/cuda_run; tests/test_portability.py samples, evaluates and resumes it on a CPU)
#   2. the step as a CUDA graph against plain steps: the same weights within float tolerance
#   3. every train.compile mode on the DCGAN and the MLP (fp32 and bf16, R1, wgan-gp, a resume), StyleGAN2
#      at 64 px (as a CUDA graph, plain in bf16, compiled), and a run made on the CPU resumed on CUDA
#   4. make bench's CUDA suite (benchmarks/bench_cuda.py): results-cuda.json and .md copied to $LOG_DIR
# (DEVICE=cpu runs the same steps on a CPU: a dry run of this script, not a measurement.)
cd "$(dirname "$0")"; G=$PWD; ROOT=$(cd .. && pwd); END=$((SECONDS + ${BUDGET:-450}))
left() { echo $((END - SECONDS)); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site whl/*.whl 2>&1 | tail -2
export PYTHONPATH=/tmp/site:$ROOT PATH=/tmp/site/bin:$PATH GAN_CLI_CACHE=/tmp/cache PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch,torchvision;print('torch',torch.__version__,'torchvision',torchvision.__version__,torch.cuda.get_device_name())"
mkdir -p /tmp/w
step() { # label timeout overrides...: one gan-train run on CUDA, summarised as a JSON line
  local label=$1 t=$2; shift 2
  (( $(left) < 20 )) && { echo "{\"what\": \"$label\", \"skipped\": \"no time left\"}"; return; }
  (( t > $(left) )) && t=$(left)
  local d=/tmp/w/$label s=$SECONDS
  timeout -k 5 "$t" gan-train hydra.run.dir="$d" train.device="${DEVICE:-cuda}" train.final_eval=false "$@" > "/tmp/w/$label.log" 2>&1; local rc=$?
  if [[ -f $d/summary.json ]]; then python3 "$ROOT/benchmarks/gpu/tools.py" summary "$d" "$label" $((SECONDS - s))
  else echo "{\"what\": \"$label\", \"rc\": $rc}"; grep -v "^\s*$" "/tmp/w/$label.log" | tail -8; fi
  grep -h "train.cuda_graph\|train.compile\|train.precision" "/tmp/w/$label.log" | head -3
  [[ -n ${LOG_DIR:-} ]] && cp "/tmp/w/$label.log" "$LOG_DIR/" 2>/dev/null
}
D64="dataset=fake model=dcgan dataset.image_size=64 dataset.channels=3 train.sample_every=0 train.ckpt_every=0 train.log_every=100"
RING="dataset=ring model=mlp train.sample_every=0 train.ckpt_every=0 train.log_every=100"
# 1. the fixture (digits, a small conditional DCGAN with the default recipe, 40 steps, checkpoints kept)
step fixture 90 model.ngf=16 model.ndf=16 train.steps=40 train.ckpt_every=20 train.log_every=10 train.num_samples=16 train.batch_size=32
[[ -n ${LOG_DIR:-} && -d /tmp/w/fixture ]] && cp -r /tmp/w/fixture "$LOG_DIR/cuda_run"
# 2. graph against plain steps
(( $(left) > 60 )) && timeout -k 5 120 python3 "$ROOT/benchmarks/gpu/tools.py" equal
# 3. compile modes
step dcgan_b64_fp32_default 150 $D64 train.batch_size=64 train.steps=400 train.precision=fp32 train.compile=default
step dcgan_b64_bf16_reduce 150 $D64 train.batch_size=64 train.steps=400 train.precision=bf16 train.compile=reduce-overhead
step dcgan_b64_fp32_reduce_nograph 150 $D64 train.batch_size=64 train.steps=400 train.compile=reduce-overhead train.cuda_graph=false
step mlp_wgangp_default 120 $RING loss=wgan-gp train.steps=400 train.compile=default
step mlp_bf16_max_autotune 200 $RING train.steps=400 train.precision=bf16 train.compile=max-autotune
step digits_r1_default 150 train.steps=400 train.compile=default train.log_every=100
# StyleGAN2 at 64 px (the official auto config, ADA, path length, lazy R1): plain, as a CUDA graph, compiled
SG="experiment=stylegan2 dataset=fake dataset.image_size=64 dataset.channels=3 train.sample_every=0 train.ckpt_every=0 train.log_every=50"
step stylegan2_64_fp32_graph 150 $SG train.steps=200 train.precision=fp32
step stylegan2_64_bf16_nograph 120 $SG train.steps=200 train.precision=bf16 train.cuda_graph=false
step stylegan2_64_bf16_default 180 $SG train.steps=200 train.precision=bf16 train.compile=default
if [[ -d /tmp/w/fixture ]] && (( $(left) > 60 )); then  # a resume, compiled and as a graph
  cp -r /tmp/w/fixture /tmp/w/resumed; s=$SECONDS
  timeout -k 5 90 gan-train resume=/tmp/w/resumed train.device="${DEVICE:-cuda}" train.steps=80 train.compile=default > /tmp/w/resumed.log 2>&1
  python3 "$ROOT/benchmarks/gpu/tools.py" summary /tmp/w/resumed resume_compiled $((SECONDS - s)) || tail -8 /tmp/w/resumed.log
fi
if (( $(left) > 60 )); then  # a run made on the CPU resumed on CUDA
  s=$SECONDS
  timeout -k 5 60 gan-train hydra.run.dir=/tmp/w/cpu_made train.device=cpu model.ngf=16 model.ndf=16 train.steps=20 > /tmp/w/cpu_made.log 2>&1
  timeout -k 5 60 gan-train resume=/tmp/w/cpu_made train.device="${DEVICE:-cuda}" train.steps=40 >> /tmp/w/cpu_made.log 2>&1
  python3 "$ROOT/benchmarks/gpu/tools.py" summary /tmp/w/cpu_made cpu_run_resumed_on_cuda $((SECONDS - s)) || tail -8 /tmp/w/cpu_made.log
fi
# 4. make bench on CUDA
if (( $(left) > 120 )); then
  (cd "$ROOT" && timeout -k 5 $(( $(left) - 10 )) python3 -m benchmarks.bench_cuda --out /tmp/w/results-cuda.json)
  [[ -n ${LOG_DIR:-} ]] && cp /tmp/w/results-cuda.* "$LOG_DIR/" 2>/dev/null
fi
echo "left $(left) s"
