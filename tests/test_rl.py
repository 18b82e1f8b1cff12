"""RL on verifiable tasks: the CISPO and GRPO losses against their hand-derived gradients, dynamic sampling, loop
detection, log-probabilities against a full forward, config errors, and a micro-model run that raises its reward."""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.brain.errors import BrainError
from llm.data.registry import Task
from llm.data.types import Example, Verdict
from llm.rl.advantage import group_advantages, informative_groups
from llm.rl.config import RLConfig
from llm.rl.logprob import pack, response_logprobs
from llm.rl.losses import cispo_loss, grpo_loss
from llm.rl.rollout import RolloutConfig, loops, sample_groups

sys.path.insert(0, str(Path(__file__).parent))
from test_brain_client import make_micro_checkpoint


def _random_batch(seed: int, G: int, T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(G, T, generator=g) * 3).requires_grad_(True)
    old = logp.detach() + torch.randn(G, T, generator=g) * 0.5
    adv = torch.randn(G, generator=g)
    mask = (torch.rand(G, T, generator=g) > 0.3).float()
    mask[:, 0] = 1.0
    return logp, old, adv, mask


@settings(derandomize=True, max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), G=st.integers(1, 6), T=st.integers(1, 9),
       eps_high=st.floats(0.05, 1.0))
def test_cispo_gradient_is_the_clipped_weight_times_advantage(seed: int, G: int, T: int, eps_high: float) -> None:
    logp, old, adv, mask = _random_batch(seed, G, T)
    cispo_loss(logp, old, adv, mask, eps_low=1.0, eps_high=eps_high).backward()
    r_hat = torch.clamp(torch.exp(logp.detach() - old), 0.0, 1.0 + eps_high)
    # ∇_logp of −J: −sg(r̂)·Â·mask / Σ|o| (d log π / d logp = 1)
    expected = -(r_hat * adv[:, None] * mask) / mask.sum()
    assert torch.allclose(logp.grad, expected, atol=1e-6)


def test_cispo_keeps_gradient_where_grpo_clips_it() -> None:
    logp = torch.log(torch.tensor([[0.9, 0.5]])).requires_grad_(True)
    old = torch.log(torch.tensor([[0.3, 0.5]]))     # token 0: ratio 3 > 1 + ε, token 1: ratio 1
    adv, mask = torch.tensor([1.0]), torch.ones(1, 2)
    cispo_loss(logp, old, adv, mask, eps_high=0.28).backward()
    assert logp.grad[0, 0] == pytest.approx(-1.28 / 2)   # bounded weight, gradient still there
    logp.grad = None
    grpo_loss(logp, old, adv, mask, eps=0.2).backward()
    assert logp.grad[0, 0] == 0.0                         # PPO-clip: outside the trust region, no gradient
    assert logp.grad[0, 1] != 0.0


def test_grpo_averages_per_sequence_and_its_kl_needs_a_reference() -> None:
    logp = torch.zeros(2, 4, requires_grad=True)
    mask = torch.tensor([[1.0, 0, 0, 0], [1.0, 1, 1, 1]])
    grpo_loss(logp, logp.detach(), torch.tensor([1.0, 1.0]), mask).backward()
    assert logp.grad[0, 0] == pytest.approx(-0.5)         # one token carries its whole sequence
    assert logp.grad[1, 0] == pytest.approx(-0.125)
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(logp, logp.detach(), torch.ones(2), mask, kl_coef=0.04)
    ref = torch.full((2, 4), -0.5)
    with_kl = grpo_loss(logp, logp.detach(), torch.zeros(2), mask, kl_coef=0.1, ref_logp=ref)
    assert float(with_kl.detach()) > 0                             # k3 KL >= 0 is a penalty


def test_dynamic_sampling_drops_groups_with_equal_rewards() -> None:
    rewards = torch.tensor([[1.0, 1, 1, 1], [0.0, 0, 0, 0], [1.0, 0, 0, 1], [0.0, 0, 0, 1]])
    assert informative_groups(rewards).tolist() == [False, False, True, True]
    adv = group_advantages(rewards)
    assert torch.equal(adv[:2], torch.zeros(2, 4))
    assert torch.allclose(adv[2:].mean(1), torch.zeros(2), atol=1e-6)
    assert torch.allclose(adv[2:].std(1, unbiased=False), torch.ones(2), atol=1e-5)


def test_loop_detection() -> None:
    assert loops([5, 1, 2, 3] * 5, max_period=12, repeats=4, min_span=16)
    assert not loops([5, 1, 2, 3] * 3, max_period=12, repeats=4, min_span=16)     # 12 tokens: under the span
    assert not loops(list(range(40)), max_period=12, repeats=4, min_span=16)
    assert loops([9] * 16, max_period=12, repeats=4, min_span=16)
    assert not loops([9] * 15, max_period=12, repeats=4, min_span=16)


@pytest.fixture(scope="module")
def micro(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_micro_checkpoint(tmp_path_factory.mktemp("rl-micro"), seed=3)


def test_response_logprobs_match_a_full_forward(micro: Path) -> None:
    from llm import checkpoint

    model = checkpoint.load(micro).eval()
    prompts, responses = [[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14]]
    ids, mask, pos = pack(prompts, responses, pad_id=0)
    with torch.no_grad():
        got = response_logprobs(model, ids, pos)
        for b, (p, r) in enumerate(zip(prompts, responses)):
            full = torch.log_softmax(model(torch.tensor([p + r])).logits[0], -1)
            want = torch.stack([full[len(p) + i - 1, t] for i, t in enumerate(r)])
            assert torch.allclose(got[b, :len(r)], want, atol=1e-5)
    assert mask.tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]


def test_thinking_budget_forces_the_close_tag(micro: Path) -> None:
    from llm import checkpoint
    from llm.tokenizer import ChatTokenizer

    model, tok = checkpoint.load(micro).eval(), ChatTokenizer.load(micro)
    open_id, close_id = tok.tok.token_to_id("<think>"), tok.tok.token_to_id("</think>")
    prompt = tok.encode_chat([{"role": "user", "content": "hi"}]) + [open_id]   # the response starts thinking
    cfg = RolloutConfig(group_size=4, max_new_tokens=10, thinking_budget=3, loop_min_span=100)
    ro = sample_groups(model, [prompt, prompt[:-1]], tok.eos_id, tok.pad_id, cfg, open_id, close_id,
                       torch.Generator().manual_seed(0))
    assert ro.prompt_of == [0, 0, 0, 0, 1, 1, 1, 1]
    for r, k in zip(ro.response_ids, ro.prompt_of):
        if k == 0:   # a random micro model never closes by itself: the close tag is forced after 3 tokens
            assert r[3] == close_id and close_id not in r[:3], r


def test_config_errors_name_the_field(tmp_path: Path, micro: Path) -> None:
    bad = tmp_path / "rl.yaml"
    bad.write_text(f"init_from: {micro}\nalgo: ppo\n")
    with pytest.raises(BrainError, match=r"rl\.yaml:2: algo: must be one of 'cispo' or 'grpo' \(got 'ppo'\)"):
        RLConfig.load(bad)
    bad.write_text(f"init_from: {micro}\ntasks: {{interaction: 1.0}}\n")
    with pytest.raises(BrainError, match=r"rl\.yaml:2: tasks\.interaction: is not a task here"):
        RLConfig.load(bad)
    bad.write_text(f"init_from: {micro}\ngroup_size: 1\n")
    with pytest.raises(BrainError, match=r"rl\.yaml:2: group_size: must be >= 2 \(got 1\)"):
        RLConfig.load(bad)
    bad.write_text("init_from: nowhere\n")
    with pytest.raises(BrainError, match="init_from: .*nowhere/config.json not found"):
        RLConfig.load(bad)


def _lowercase_task() -> Task:
    """A trivial verifiable task: the response must start with a lowercase ASCII letter (a random micro model
    does so about a fifth of the time)."""
    def generate(rng: random.Random, d: int) -> Example:
        return Example(task="lower", difficulty=d, system="Answer.", user=f"Say something {rng.randint(0, 10**9)}.",
                       answer="ok")

    def verify(ex: Example, text: str) -> Verdict:
        return Verdict(True, text[:1].isascii() and text[:1].islower())

    return Task("lower", generate, verify)


@pytest.mark.parametrize("algo", ["cispo", "grpo"])
def test_micro_rl_run_raises_reward_on_a_trivial_task(algo: str, micro: Path, tmp_path: Path) -> None:
    from llm.rl.loop import run

    cfg = RLConfig.from_dict({"init_from": str(micro), "tasks": {"game24": 1.0}, "algo": algo, "steps": 24,
                                  "prompts_per_step": 8, "group_size": 8, "max_new_tokens": 1, "thinking_budget": None,
                                  "lr": 0.03, "updates_per_step": 2, "eval_every": 100, "eval_max_new_tokens": 1,
                                  "heldout_per_difficulty": 4, "seed": 0})
    m = run(cfg, tmp_path / "run", tasks={"lower": _lowercase_task()}, progress=False)
    with (tmp_path / "run" / "rewards.csv").open() as f:
        rewards = [float(r["reward"]) for r in csv.DictReader(f)]
    assert len(rewards) == 24 and m["rollouts"] == 24 * 8 * 8
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5 + 0.3
    assert m["pass_rate_after"] > 0.6
    for name in ("checkpoint/config.json", "checkpoint/tokenizer.json", "metrics.json", "heldout.csv",
                 "reward.png"):
        assert (tmp_path / "run" / name).is_file(), name


def test_resume_continues_the_run(micro: Path, tmp_path: Path) -> None:
    from llm.rl.loop import run

    kw = {"init_from": str(micro), "tasks": {"game24": 1.0}, "prompts_per_step": 4, "group_size": 4,
          "max_new_tokens": 1, "thinking_budget": None, "lr": 0.01, "eval_every": 100, "eval_max_new_tokens": 1,
          "heldout_per_difficulty": 2}
    run(RLConfig.from_dict(dict(kw, steps=3)), tmp_path / "r", tasks={"lower": _lowercase_task()}, progress=False)
    with pytest.raises(BrainError, match="already exists"):
        run(RLConfig.from_dict(dict(kw, steps=5)), tmp_path / "r", tasks={"lower": _lowercase_task()}, progress=False)
    m = run(RLConfig.from_dict(dict(kw, steps=5)), tmp_path / "r", resume=True, tasks={"lower": _lowercase_task()},
            progress=False)
    assert m["steps"] == 5
    with (tmp_path / "r" / "rewards.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5]


def test_greedy_rollouts_match_plain_greedy_decoding_while_rows_leave_the_batch(micro: Path) -> None:
    from llm import checkpoint
    from llm.train import greedy_generate

    model = checkpoint.load(micro).eval()
    prompts = [[5, 6, 7, 8], [9, 10], [11, 12, 13], [14], [15, 16]]
    free = greedy_generate(model, prompts, eos_id=-1, pad_id=0, max_new_tokens=30)
    eos = free[0][4]          # row 0 stops after 5 tokens: it leaves the cache while the others go on
    cfg = RolloutConfig(group_size=1, temperature=0.0, max_new_tokens=30, thinking_budget=None, loop_min_span=100)
    ro = sample_groups(model, prompts, eos_id=eos, pad_id=0, cfg=cfg, think_open_id=None, think_close_id=None,
                       generator=torch.Generator().manual_seed(0))
    plain = greedy_generate(model, prompts, eos_id=eos, pad_id=0, max_new_tokens=30)
    assert ro.finish[0] == "eos" and len(ro.response_ids[0]) <= 5 and "length" in ro.finish
    for got, want, why in zip(ro.response_ids, plain, ro.finish):
        assert got == (want + [eos] if why == "eos" else want)
