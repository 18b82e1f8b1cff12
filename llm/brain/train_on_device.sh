#!/usr/bin/env bash
# The embedded brain's training run on one GPU (the device tool runs this from the repo root, $OUT collects results).
# Trains llm/brain/train_small.yaml (time-budgeted), then packs what comes back: the log, the metrics/loss/config
# tarball, and the bf16 safetensors split into <16 MB parts (the transfer's per-file limit).
# Reassemble here with: cat model.safetensors.part* > llm/models/brain-small/model.safetensors
set -euo pipefail
export PYTHONUNBUFFERED=1
RUN=${RUN:-/tmp/brain-run}
OUT=${OUT:-out/device}
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-llm/brain/train_small.yaml}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
${PYTHON:-python3} -c 'import torch, tokenizers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "tokenizers", tokenizers.__version__)'
rm -rf "$RUN"
${PYTHON:-python3} -m llm.train --config "$CONFIG" --out "$RUN" --device "$DEVICE" --no-progress 2>&1 | tee "$OUT/train_log.txt"
(cd "$RUN" && tar czf "$OUT/run_meta.tgz" loss.csv metrics.json checkpoint/config.json checkpoint/tokenizer.json \
    checkpoint/tokenizer_config.json)
split -b 15000000 -d "$RUN/checkpoint/model.safetensors" "$OUT/model.safetensors.part"
sha256sum "$RUN/checkpoint/model.safetensors" | tee "$OUT/model.sha256"
ls -la "$OUT"
