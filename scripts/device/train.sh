#!/usr/bin/env bash
# Run ON THE LENT GPU MACHINE (device tool, `carry: [".device"]`), after scripts/device/prepare.sh here.
#
#   scripts/device/train.sh start      set up, speak the corpus, start training in the background
#   scripts/device/train.sh wait SECS  sleep, then print each run's last metrics (keeps the lease busy)
#   scripts/device/train.sh finish     stop training (checkpoints saved), put results under $OUT
#
# A bare machine is handed out per lease and a command may run 10 minutes, so `start` detaches the
# trainers (setsid) and later calls, each made within the machine's 30 s warm window, `wait` and
# `finish`. Each model starts from .device/init (inference weights; fresh optimisers, and for
# HiFi-GAN fresh full-size discriminators: the adversarial phase the CPU cannot afford).
#
# What comes back ($OUT, <= 8 files of <= 16 MiB): voice.tar (the fp16 voice, metrics, logs; unpack
# and `ganspeech pack` it) and ckpt.tar.part-* (text-to-mel and WaveNet training state, resumable
# with `ganspeech train ... --resume --run-dir`). HiFi-GAN's state (full-size discriminators and
# their optimiser) is far over the 64 MiB that can come back; its next run starts from its weights.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=${GANSPEECH_DEVICE_WORK:-/tmp/ganspeech}
corpus=$work/corpora/rms
voice=$work/voice
models=${MODELS:-"text2mel hifigan wavenet"}
# Batch sizes for one shared H100 (the CPU recipes use 16, 8 and 4): published HiFi-GAN batch 16.
text2mel_args=${TEXT2MEL_ARGS:-"--config small --batch-size 32"}
hifigan_args=${HIFIGAN_ARGS:-"--config v2 --warmup-steps 0 --disc-width 1.0 --batch-size 16"}
wavenet_args=${WAVENET_ARGS:-"--config small --batch-size 16"}
# Checkpoint parts returned; 15 MiB keeps each under the 16 MiB a file that comes back.
part_size=15M
stop_timeout_s=180

setup_env() {
  local root=$work/root
  if [ ! -x "$root/usr/bin/flite" ]; then
    mkdir -p "$root"
    for f in .device/debs/*.deb; do dpkg -x "$f" "$root"; done
  fi
  export PATH=$root/usr/bin:$PATH
  export LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if ! python3 -c "import librosa, soundfile, espeakng_loader" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$work/site" .device/wheels/*.whl
  fi
  export PYTHONPATH=$repo:$work/site
  export PYTHONUNBUFFERED=1
}

cache_ready() { compgen -G "$corpus/.ganspeech_cache/*/index.json" >/dev/null; }

launch() {
  local model=$1 args_var="${1}_args"
  # shellcheck disable=SC2086  # the *_ARGS variables are word lists on purpose
  setsid nohup python3 -m tts.cli train "$model" --data "$corpus" --out "$voice" --run-dir "$work/runs/$model" \
    --init-from .device/init \
    --half-weights --max-steps 100000000 --checkpoint-every 500 --validate-every 1000 --no-progress \
    ${!args_var} >"$work/$model.log" 2>&1 < /dev/null &
  launched_pid=$!
  echo "started $model (log $work/$model.log)"
}

start() {
  mkdir -p "$work"
  setup_env
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
  # SENTENCES (first N only) is for a dry run of this script on a workstation.
  python3 -m tts.cli corpus build --engine flite --flite-voice rms --out "$corpus" --workers "$(nproc)" \
    --no-progress ${SENTENCES:+--sentences "$SENTENCES"}
  local first=1
  for model in $models; do
    launch "$model"
    # The first trainer builds the feature cache; the others wait for it rather than race it.
    if [ "$first" = 1 ]; then
      until cache_ready; do
        if ! kill -0 "$launched_pid" 2>/dev/null; then
          echo "$model stopped before its feature cache was ready:" >&2; tail -n 20 "$work/$model.log" >&2; exit 1
        fi
        sleep 5
      done
      first=0
    fi
  done
}

report() {
  for model in $models; do
    echo "== $model"; tail -n 2 "$work/runs/$model/metrics.jsonl" 2>/dev/null || tail -n 3 "$work/$model.log"
  done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null || true
}

finish() {
  : "${OUT:?OUT is set by the device tool}"
  pkill -INT -f "tts.cli train" || true
  local waited=0
  while pgrep -f "tts.cli train" >/dev/null && [ "$waited" -lt "$stop_timeout_s" ]; do sleep 2; waited=$((waited + 2)); done
  report
  local logs=()
  for model in $models; do logs+=("$model.log"); done
  tar cf "$OUT/voice.tar" -C "$work" --exclude='checkpoint.pt' --exclude='samples' voice runs "${logs[@]}"
  local ckpts=()
  for model in text2mel wavenet; do
    [ -f "$work/runs/$model/checkpoint.pt" ] && ckpts+=("runs/$model/checkpoint.pt")
  done
  if [ "${#ckpts[@]}" -gt 0 ]; then
    tar cf - -C "$work" "${ckpts[@]}" | split -b "$part_size" - "$OUT/ckpt.tar.part-"
  fi
  ls -la "$OUT"
}

case "${1:-}" in
  start) start ;;
  wait) sleep "${2:?seconds}"; report ;;
  finish) finish ;;
  *) echo "usage: $0 start | wait SECONDS | finish" >&2; exit 2 ;;
esac
