"""Argument checks of the lightning kernels for the fp32-accurate mode and slot-free decode (CPU, no Triton needed)."""
from __future__ import annotations

import pytest
import torch

from llm.kernels.args import check_decode_args, check_prefill_args
from llm.kernels.errors import KernelInputError


def test_ieee_precision_is_accepted_and_unknown_modes_name_the_choices():
    q = torch.zeros(1, 2, 8, 32)
    assert check_prefill_args(q, q, q, torch.zeros(2), None, "bhtd", None, "ieee") == (1, 2, 8, 32, 32, 1)
    with pytest.raises(KernelInputError, match="precision must be one of .*'ieee'"):
        check_prefill_args(q, q, q, torch.zeros(2), None, "bhtd", None, "fp64")


def test_decode_without_slots_needs_a_pool_row_per_sequence():
    q = torch.zeros(3, 2, 16)
    assert check_decode_args(q, q, q, torch.zeros(2), torch.zeros(3, 2, 16, 16), None, None) == (3, 2, 16, 16)
    with pytest.raises(KernelInputError, match="without slots the state_pool needs >= B=3 rows, got 2"):
        check_decode_args(q, q, q, torch.zeros(2), torch.zeros(2, 2, 16, 16), None, None)
