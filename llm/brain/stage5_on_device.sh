#!/usr/bin/env bash
# Stage-5 SFT of the brain on one GPU (the device tool runs this from the repo root; $OUT collects what comes back):
# llm/brain/train_brain_stage5.yaml from the shipped checkpoint, the held-out pass rates per task and difficulty
# (greedy, inside llm.train), and the dialogue scores of the new checkpoint (llm.brain.dialogue_eval on the items of
# bench/NOTES-brain.md: 2,000 bits-per-byte pairs, R@1/10 over 500 replies, intent accuracy on both hand-written
# test sets), run on the GPU beside the held-out evaluation as soon as the checkpoint is written.
# Packages missing on the GPU machine come as one xz tarball of installed files in $WHEELS (.devwork-r9/pkgs.tar.xz:
# pydantic 2.14.4 with pydantic-core for cp312, annotated-types, typing-inspection, typing-extensions, vaderSentiment,
# and chitchat-dataset with its corpus slimmed to the conversations the config reads, as one line each), because the
# tree (62.7 MB with the shipped weights) and what is carried must stay under 64 MiB. What comes back (8 files):
# sft_log.txt, metrics.json (held-out table and samples), the weights in <16 MB parts, results.tgz (loss curve,
# dialogue scores, sha256, checkpoint config and tokenizer) and summary.txt (the tables).
# Reassemble here with: cat model.safetensors.part* > DIR/model.safetensors (the rest of DIR: results.tgz's
# checkpoint/ files). CPU smoke test: DEVICE=cpu CONFIG=<a few-step copy> BPB_PAIRS=20 RANKING=20 OUT=/tmp/x bash ...
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-out/device}
CONFIG=${CONFIG:-llm/brain/train_brain_stage5.yaml}
WHEELS=${WHEELS:-.devwork-r9}
RUN=${RUN:-/tmp/sft5}
DEVICE=${DEVICE:-cuda}
BPB_PAIRS=${BPB_PAIRS:-2000}
RANKING=${RANKING:-500}
PY=${PYTHON:-python3}
mkdir -p "$OUT" /tmp/site
OUT=$(cd "$OUT" && pwd)
for t in "$WHEELS"/*.tar.xz; do [ -e "$t" ] && tar xJf "$t" -C /tmp/site; done
if [ -f /tmp/site/chitchat_dataset/conversations.tsv ] && [ ! -f /tmp/site/chitchat_dataset/dataset.json ]; then
  # the slim corpus: one conversation a line (id, prompt, turns already merged and cut, tab-separated) -> the
  # package's dataset.json, which llm.data.dialogue.conversations_from_json reads back to the same conversations
  $PY - /tmp/site/chitchat_dataset <<'PY'
import json, sys
d = sys.argv[1]
out = {}
for line in open(f"{d}/conversations.tsv", encoding="utf-8"):
    cid, prompt, *turns = line.rstrip("\n").split("\t")
    out[cid] = {"prompt": prompt, "messages": [[{"text": t, "sender": "ab"[i % 2]}] for i, t in enumerate(turns)]}
json.dump(out, open(f"{d}/dataset.json", "w", encoding="utf-8"))
print(len(out), "conversations")
PY
fi
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
$PY -c 'import torch, chitchat_dataset, pydantic, vaderSentiment; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "pydantic", pydantic.VERSION)'
rm -rf "$RUN"
mkdir -p "$RUN"
T0=$(date +%s)

dialogue() {  # the dialogue scores of $RUN/checkpoint, once llm.train has written it (tokenizer.json comes last)
  until [ -f "$RUN/checkpoint/tokenizer.json" ] || [ -f "$RUN/train_ended" ]; do sleep 2; done
  [ -f "$RUN/checkpoint/tokenizer.json" ] || { echo "dialogue: no checkpoint"; return 1; }
  sleep 2
  echo "dialogue eval starts at $(( $(date +%s) - T0 )) s"
  $PY - "$RUN/checkpoint" "$DEVICE" "$BPB_PAIRS" "$RANKING" > "$RUN/dialogue.json" <<'PY'
import json, sys, time
from pathlib import Path
import torch
from llm import checkpoint as ck
from llm.brain.dialogue_eval import evaluate_dialogue, greedy_intents, intent_accuracy, load_intent_set
from llm.tokenizer import ChatTokenizer
path, device, pairs, ranking = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = ck.load(path, dtype=torch.float32, device=device).eval()
tok = ChatTokenizer.load(path)
t0 = time.time()
s = evaluate_dialogue(model, tok, bpb_pairs=pairs, ranking=ranking).to_json()
acc, per, _ = intent_accuracy(lambda u: greedy_intents(model, tok, u),
                              load_intent_set("tests/data/intent_natural_test2.jsonl"))
s.update(intent_test2=acc, intent_test2_per_class=per, seconds=round(time.time() - t0, 1))
s.pop("intent_errors", None)
print(json.dumps({"sft5": s}, default=str))
PY
  echo "dialogue eval ends at $(( $(date +%s) - T0 )) s"
}

dialogue > "$RUN/dialogue_log.txt" 2>&1 &
DPID=$!
rc=0
# the log and the metrics go to $OUT as they are written, so a call stopped at its limit still brings them back
$PY -m llm.train --config "$CONFIG" --out "$RUN" --device "$DEVICE" --no-progress > "$OUT/sft_log.txt" 2>&1 || rc=$?
touch "$RUN/train_ended"
echo "llm.train exit $rc at $(( $(date +%s) - T0 )) s"
cp "$RUN/metrics.json" "$OUT/metrics.json" 2>/dev/null || true
grep -v '^ *["{}]' "$OUT/sft_log.txt" | tail -n 30 || true
wait "$DPID" || echo "dialogue eval failed"
cat "$RUN/dialogue_log.txt" || true
if [ -f "$RUN/checkpoint/model.safetensors" ]; then
  split -b 15000000 -d "$RUN/checkpoint/model.safetensors" "$OUT/model.safetensors.part"
  sha256sum "$RUN/checkpoint/model.safetensors" | tee "$RUN/model.sha256"
fi
$PY - "$RUN" > "$OUT/summary.txt" <<'PY' || true
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
m = json.loads((run / "metrics.json").read_text())
print(f"steps {m['steps']} train {m['train_seconds']} s eval {m['eval_seconds']} s examples {m['train_examples']}")
for k, v in m["per_task_difficulty"].items():
    print(f"{k:18s} n {v['n']:3d} format {v['format']:.2f} correct {v['correct']:.2f}")
sha = run / "model.sha256"
if sha.is_file():
    print("sha256", sha.read_text().split()[0])
d = run / "dialogue.json"
if d.is_file() and d.read_text().strip():
    s = json.loads(d.read_text())["sft5"]
    print(f"dialogue: bpb {s['bits_per_byte']:.3f} R@1/10 {s['recall_at_1']:.3f} intent {s['intent_accuracy']:.3f} "
          f"test2 {s['intent_test2']:.3f} ({s['seconds']} s)")
PY
cat "$OUT/summary.txt"
(cd "$RUN" && tar czf "$OUT/results.tgz" dialogue_log.txt \
    $(ls loss.csv dialogue.json model.sha256 checkpoint/config.json checkpoint/tokenizer.json \
      checkpoint/tokenizer_config.json 2>/dev/null)) || true
ls -la "$OUT"
echo "total $(( $(date +%s) - T0 )) s"
exit $rc
