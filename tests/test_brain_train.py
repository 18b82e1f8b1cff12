"""The training loop on CPU (micro preset): it learns, resumes exactly, writes a loadable checkpoint and metrics."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from llm import checkpoint
from llm.brain.errors import BrainError
from llm.data.config import CorpusConfig
from llm.train import TrainConfig, encode_all, encode_example, evaluate, greedy_generate, lr_at, prepare, run

MICRO = TrainConfig(preset="micro", vocab_size=700, steps=12, batch_size=8, warmup_steps=3, lr=4e-3,
                    checkpoint_every=100, log_every=2, eval_max_new_tokens=4, eval_batch_size=16,
                    corpus=CorpusConfig(seed=1, train={"interaction": 120, "word_sort": 12, "object_count": 12,
                                                       "game24": 6}, heldout_per_difficulty=1))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny matrices: one thread is ~10x faster than two fighting over a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _losses(path: Path) -> list[float]:
    with path.open() as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("full")
    return out, run(MICRO, out, progress=False)


def test_training_lowers_loss_and_writes_a_loadable_checkpoint(full_run: tuple[Path, dict]) -> None:
    out, m = full_run
    losses = _losses(out / "loss.csv")
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3
    assert {t.dtype for t in checkpoint.load_state(out / "checkpoint").values()} == {torch.bfloat16}
    model = checkpoint.load(out / "checkpoint")
    assert model.config.vocab_size % 64 == 0 and model.config.eos_token_id is not None
    assert (out / "checkpoint" / "tokenizer.json").is_file()
    assert set(m["per_task_difficulty"]) == {f"{t}/d{d}" for t in ("interaction", "game24", "word_sort",
                                                                   "object_count") for d in (1, 2, 3)}
    assert 0.0 <= m["summary"]["interaction_intent"] <= m["summary"]["interaction_format"] <= 1.0
    with pytest.raises(BrainError, match="--resume"):
        run(MICRO, out, progress=False)


def test_interrupted_and_resumed_run_ends_with_identical_weights(full_run: tuple[Path, dict],
                                                                 tmp_path: Path) -> None:
    assert run(MICRO, tmp_path, progress=False, stop_after=6) == {}
    assert not (tmp_path / "checkpoint").exists()
    run(MICRO, tmp_path, resume=True, progress=False)
    a = checkpoint.load_state(full_run[0] / "checkpoint")
    b = checkpoint.load_state(tmp_path / "checkpoint")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "loss.csv") == _losses(full_run[0] / "loss.csv")


def test_loss_masks_everything_but_the_answer(full_run: tuple[Path, dict]) -> None:
    tok, train, _ = prepare(MICRO, full_run[0])
    ids, tgt, lengths = encode_all(tok, train[:5], 192)
    for b, ex in enumerate(train[:5]):
        x, mask = encode_example(tok, ex, 192)
        assert ids[b, :lengths[b]].tolist() == x
        learned = [t for t in tgt[b].tolist() if t != -100]
        assert learned == [x[i] for i in range(1, len(x)) if mask[i]]
        assert tok.decode(learned[:-1]) == ex.answer and learned[-1] == tok.eos_id


def test_batched_greedy_decoding_matches_one_by_one(full_run: tuple[Path, dict]) -> None:
    model = checkpoint.load(full_run[0] / "checkpoint", dtype=torch.float32)
    prompts = [[5, 6, 7], [9, 10, 11, 12, 13, 14, 15], [3]]
    batch = greedy_generate(model, prompts, eos_id=2, pad_id=0, max_new_tokens=5)
    assert batch == [greedy_generate(model, [p], 2, 0, 5)[0] for p in prompts]


def test_evaluate_scores_gold_answers_perfectly_and_junk_as_malformed(full_run: tuple[Path, dict]) -> None:
    _, _, held = prepare(MICRO, full_run[0])
    m = evaluate(lambda batch: [ex.answer for ex in batch], held)
    assert all(v["format"] == 1.0 and v["correct"] == 1.0 for v in m["per_task_difficulty"].values())
    m = evaluate(lambda batch: ["<intent>listen</intent> Mm." for _ in batch], held)
    assert m["per_task_difficulty"]["word_sort/d1"]["format"] == 0.0
    assert m["summary"]["interaction_format"] == 1.0


@given(step=st.integers(0, 5000), total=st.integers(1, 5000))
def test_lr_schedule_warms_up_then_decays_within_bounds(step: int, total: int) -> None:
    cfg = TrainConfig(lr=1e-3, min_lr_ratio=0.1, warmup_steps=100)
    lr = lr_at(step, total, cfg)
    assert 0 < lr <= 1e-3 + 1e-15
    if step >= 100:
        assert lr >= 1e-4 - 1e-15
        assert lr_at(step + 1, total, cfg) <= lr + 1e-15
    else:
        assert lr == pytest.approx(1e-3 * (step + 1) / 100)


@pytest.mark.parametrize("raw,field", [
    ({"preset": "huge"}, "preset"), ({"lr": 0}, "lr"), ({"beta2": 1.5}, "beta2"), ({"steps": 0}, "steps"),
    ({"batchsize": 3}, "batchsize"), ({"corpus": {"train": {"x": 1}}}, "train.x"),
    ({"tokenizer_dir": "/nonexistent"}, "tokenizer_dir"),
])
def test_config_errors_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(BrainError, match=field.replace(".", r"\.")):
        TrainConfig.from_dict(raw)


def test_shipped_training_config_is_valid() -> None:
    for name in ("train_brain.yaml", "train_brain_stage2.yaml", "train_brain_stage3.yaml"):
        cfg = TrainConfig.load(Path(__file__).parents[1] / "llm" / "brain" / name)
        assert cfg.beta2 == 0.95 and cfg.bf16 and cfg.preset == "small" and cfg.time_budget_s is not None
        assert cfg.corpus.dialogue.conversations is None and cfg.model["hidden_size"] == 384


def test_router_balance_loss_is_one_when_uniform_and_grows_when_collapsed() -> None:
    from llm.train import router_balance_loss

    keep = torch.ones(64, dtype=torch.bool)
    spread = torch.eye(8).repeat(8, 1) * 5  # each expert is some token's favourite equally often
    collapsed = torch.zeros(64, 8)
    collapsed[:, 0], collapsed[:, 1] = 6.0, 5.0
    assert router_balance_loss([spread], 1, keep) == pytest.approx(1.0, abs=0.05)
    assert router_balance_loss([collapsed], 2, keep) > 2.0
    keep[32:] = False  # padding rows do not count
    assert router_balance_loss([spread], 1, keep) == pytest.approx(router_balance_loss([spread[:32]], 1,
                                                                                       keep[:32]))


def test_model_card_reports_the_measured_numbers(full_run: tuple[Path, dict], tmp_path: Path) -> None:
    import shutil

    from llm.brain.model_card import write_card

    out, m = full_run
    ck = tmp_path / "ck"
    shutil.copytree(out / "checkpoint", ck)
    card = write_card(out, ck).read_text()
    assert f"**{m['summary']['interaction_intent']:.1%}**" in card
    for key, v in m["per_task_difficulty"].items():
        assert f"| {key} | {v['n']} | {v['format']:.1%} | {v['correct']:.1%} |" in card
    assert (ck / "loss.png").stat().st_size > 1000 and (ck / "loss.csv").read_text() == (out / "loss.csv").read_text()
    with pytest.raises(BrainError, match="metrics.json"):
        write_card(tmp_path, ck)
