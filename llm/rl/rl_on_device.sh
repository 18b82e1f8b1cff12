#!/usr/bin/env bash
# The brain's stage-4 SFT and its reinforcement learning on one GPU (the device tool runs this from the repo root;
# $OUT collects what comes back).
#   PHASE=sft: stage 4 (llm/brain/train_brain_stage4.yaml) from the shipped checkpoint, a 3-step CISPO and GRPO smoke
#     run from it, and the new weights split into <16 MB parts.
#   PHASE=compare: CISPO and GRPO x 3 seeds (llm/rl/rl_compare.yaml) from the checkpoint in llm/models/brain-small
#     (put the stage-4 weights there first), all six at once, the comparison and the dialogue scores of the start.
#   PHASE=ship (default): the shipped recipe llm/rl/rl_brain.yaml alone on the GPU, dialogue scores before and
#     after, and the new weights in parts.
# Packages missing on the GPU machine come as xz tarballs in $WHEELS (see llm/brain/train_on_device.sh).
# Reassemble here with: cat model.safetensors.part* > llm/models/brain-small/model.safetensors
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-out/device}
PHASE=${PHASE:-ship}
WHEELS=${WHEELS:-.devwork}
SEEDS=${SEEDS:-"0 1 2"}
PY=${PYTHON:-python3}
mkdir -p "$OUT" /tmp/site
OUT=$(cd "$OUT" && pwd)
for t in "$WHEELS"/*.tar.xz; do [ -e "$t" ] && tar xJf "$t" -C /tmp/site; done
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'

pack() {  # $1: checkpoint dir -> weights in parts + sha
  split -b 15000000 -d "$1/model.safetensors" "$OUT/model.safetensors.part"
  sha256sum "$1/model.safetensors" | tee "$OUT/model.sha256"
}

dialogue() {  # $1 name, $2 checkpoint dir
  $PY - "$1" "$2" <<'PY'
import json, sys, time
from pathlib import Path
import torch
from llm import checkpoint as ck
from llm.brain.dialogue_eval import evaluate_dialogue, greedy_intents, intent_accuracy, load_intent_set
from llm.tokenizer import ChatTokenizer
name, path = sys.argv[1], Path(sys.argv[2])
model = ck.load(path, dtype=torch.float32, device="cuda").eval()
tok = ChatTokenizer.load(path)
t0 = time.time()
s = evaluate_dialogue(model, tok, bpb_pairs=2000, ranking=500).to_json()
acc, per, _ = intent_accuracy(lambda u: greedy_intents(model, tok, u), load_intent_set("tests/data/intent_natural_test2.jsonl"))
s.update(intent_test2=acc, intent_test2_per_class=per, seconds=round(time.time() - t0, 1))
s.pop("intent_errors", None)
print(json.dumps({name: s}, default=str))
PY
}

if [ "$PHASE" = sft ]; then
  rm -rf /tmp/sft4
  $PY -m llm.train --config llm/brain/train_brain_stage4.yaml --out /tmp/sft4 --device cuda --no-progress \
      2>&1 | tee "$OUT/sft_log.txt" | grep -v '^ *"' || true
  cp /tmp/sft4/metrics.json "$OUT/sft_metrics.json"
  cat > /tmp/smoke.yaml <<YAML
init_from: /tmp/sft4/checkpoint
tasks: {game24: 1.0, object_count: 1.0, boolean_logic: 1.0, calendar_math: 1.0, sudoku4: 1.0}
steps: 3
heldout_per_difficulty: 8
eval_every: 100
YAML
  for algo in cispo grpo; do
    $PY -m llm.rl.cli rl --config /tmp/smoke.yaml --algo $algo --out /tmp/smoke-$algo --device cuda 2>&1 \
        | tee -a "$OUT/smoke_log.txt"
    cat /tmp/smoke-$algo/rewards.csv >> "$OUT/smoke_log.txt"
  done
  pack /tmp/sft4/checkpoint
elif [ "$PHASE" = compare ]; then
  # CISPO and GRPO x SEEDS from the checkpoint in llm/models/brain-small (the stage-4 weights put there), all at once
  rm -rf /tmp/rl && mkdir -p /tmp/rl
  export OMP_NUM_THREADS=2
  for algo in cispo grpo; do
    for s in $SEEDS; do
      $PY -m llm.rl.cli rl --config llm/rl/rl_compare.yaml --algo $algo --seed $s --steps ${COMPARE_STEPS:-30} \
          --out /tmp/rl/$algo-$s --device cuda > /tmp/rl/$algo-$s.log 2>&1 &
    done
  done
  dialogue sft4 llm/models/brain-small > /tmp/rl/dialogue_sft4.json 2>&1 || true
  wait || true
  tail -n 3 /tmp/rl/*.log | tee "$OUT/rl_tail.txt"
  $PY -m llm.rl.cli compare /tmp/rl/cispo-* /tmp/rl/grpo-* --out /tmp/rl/compare | tee "$OUT/compare.json" || true
  (cd /tmp/rl && tar czf "$OUT/rl_runs.tgz" --exclude='*.safetensors' --exclude='rl_state.pt' *.log compare \
      */rewards.csv */heldout.csv */metrics.json */reward.png */heldout_before.json dialogue_*.json) || true
else
  # the shipped recipe alone on the GPU: llm/rl/rl_brain.yaml from the checkpoint in llm/models/brain-small
  rm -rf /tmp/rl && mkdir -p /tmp/rl
  dialogue before llm/models/brain-small > /tmp/rl/dialogue_before.json 2>&1 &
  $PY -m llm.rl.cli rl --out /tmp/rl/ship --device cuda 2>&1 | tee /tmp/rl/ship.log | grep -v '^ *"' || true
  wait || true
  dialogue after /tmp/rl/ship/checkpoint > /tmp/rl/dialogue_after.json 2>&1 || true
  cat /tmp/rl/dialogue_*.json | tee "$OUT/dialogue.json"
  (cd /tmp/rl && tar czf "$OUT/rl_ship.tgz" ship.log ship/rewards.csv ship/heldout.csv ship/metrics.json \
      ship/reward.png ship/heldout_before.json dialogue_*.json) || true
  pack /tmp/rl/ship/checkpoint
fi
ls -la "$OUT"
