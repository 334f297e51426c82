#!/usr/bin/env bash
# Run HERE, on the workstation, before a session's first `run` on a lent GPU machine.
#
# Gathers into .device/ (gitignored; name it in `carry`) what the GPU image lacks for
# scripts/device/train.sh: the Debian flite packages (the corpus's teacher), Python 3.12 wheels of
# the audio and frontend packages the image does not hold (it has torch, numpy, scipy, numba,
# safetensors, tqdm, scikit-learn, joblib, msgpack, lazy-loader), and the weights to start from.
# The corpus itself (~0.7 GB of audio) cannot travel (64 MiB limit), so the GPU machine speaks it
# again with flite: the builder is deterministic, so sentences and splits are the same as here.
#
# Usage: scripts/device/prepare.sh [INIT_VOICE_DIR]   (default: the bundled voice)
set -euo pipefail
cd "$(dirname "$0")/../.."
init_voice=${1:-tts/voices/default}
dest=.device
rm -rf "$dest"
mkdir -p "$dest/debs" "$dest/wheels" "$dest/init"

(cd "$dest/debs" && apt-get download flite libflite1 libasound2)

# The versions installed here (the ones the test suite runs on), as wheels for the GPU image's
# CPython 3.12 on x86-64; pure-Python wheels match any of these platforms.
pins=()
for name in librosa soxr audioread pooch platformdirs decorator soundfile cffi pycparser espeakng-loader; do
  pins+=("$name==$(python3 -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$dest/wheels" "${pins[@]}"

# Inference weights only (safetensors + JSON): training state stays here in runs/.
cp "$init_voice"/*.safetensors "$init_voice"/*.json "$dest/init/"
du -sh "$dest"
echo "carry: .device   (then: run scripts/device/train.sh start)"
