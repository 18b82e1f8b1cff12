#!/usr/bin/env bash
# The embedded brain's training on one GPU (the device tool runs this from the repo root; $OUT collects results).
# Trains every size in $CANDIDATES side by side from $CONFIG (llm.brain.size_search), scores each on held-out
# dialogue, intent accuracy and the synthetic verifiers beside $BASELINE, then packs what comes back: the winner's
# bf16 safetensors split into <16 MB parts (the transfer's per-file limit), and a tarball of every run's metrics,
# loss curve, log, config and tokenizer. Packages missing on the GPU machine (chitchat-dataset) come in $WHEELS, as
# wheels or as xz tarballs of their installed files (smaller: the transfer carries at most 64 MiB with the tree).
# Reassemble here with: cat model.safetensors.part* > llm/models/brain-small/model.safetensors
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-out/device}
CONFIG=${CONFIG:-llm/brain/train_brain.yaml}
CANDIDATES=${CANDIDATES:-llm/brain/size_candidates.yaml}
BASELINE=${BASELINE-llm/models/brain-small}   # BASELINE= (empty) scores no baseline
BUDGET=${BUDGET:-360}
WHEELS=${WHEELS:-.devwork}
RUN=${RUN:-/tmp/brain-search}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
mkdir -p /tmp/site
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  ${PYTHON:-python3} -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
fi
for t in "$WHEELS"/*.tar.xz; do [ -e "$t" ] && tar xJf "$t" -C /tmp/site; done   # a package's files, xz-packed
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
${PYTHON:-python3} -c 'import torch, tokenizers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "tokenizers", tokenizers.__version__)'
rm -rf "$RUN"
${PYTHON:-python3} -m llm.brain.size_search --config "$CONFIG" --candidates "$CANDIDATES" --out "$RUN" \
    --budget "$BUDGET" ${BASELINE:+--baseline "$BASELINE"} 2>&1 | tee "$OUT/search_log.txt"
WIN=$(${PYTHON:-python3} -c 'import json,sys; print(json.load(open(sys.argv[1]))["winner"])' "$RUN/size_search.json")
cp "$RUN/size_search.json" "$OUT/"
(cd "$RUN" && tar czf "$OUT/runs_meta.tgz" --exclude='*.safetensors' --exclude='train_state.pt' \
    --exclude='data' --exclude='*.jsonl' */loss.csv */metrics.json */train_log.txt */train.yaml */checkpoint)
split -b 15000000 -d "$RUN/$WIN/checkpoint/model.safetensors" "$OUT/model.safetensors.part"
sha256sum "$RUN/$WIN/checkpoint/model.safetensors" | tee "$OUT/model.sha256"
ls -la "$OUT"
