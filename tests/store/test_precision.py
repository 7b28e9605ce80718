"""Mixed precision where the CPU computes bf16 natively: cross-encoder scores as float32 gives them, in less time."""

import pytest
import torch

from ragtune_core.store import models
from ragtune_core.store.models import FULL_PRECISION_ENV, cpu_bf16, load_model, mixed_precision, score_pairs

PAIRS = [
    ("When was the bridge opened?", "The bridge opened to traffic in 1937 after four years of work."),
    ("When was the bridge opened?", "The city's football club plays in a stadium by the river."),
    ("Who founded the company?", "The company was founded by two engineers in a garage in 1939."),
    ("Who founded the company?", "Revenue grew by twelve percent, driven by services."),
]


def test_float32_is_kept_where_asked_and_a_gpu_is_left_to_the_trainer(monkeypatch):
    monkeypatch.setenv(FULL_PRECISION_ENV, "1")
    assert not cpu_bf16()
    with mixed_precision():
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
    monkeypatch.delenv(FULL_PRECISION_ENV)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert not cpu_bf16()


def test_where_the_cpu_has_bf16_a_context_computes_in_it(monkeypatch):
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    with mixed_precision():
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32  # only inside


@pytest.mark.slow
def test_bf16_scores_are_float32_scores_within_a_hundredth_in_the_same_order(monkeypatch):
    torch.manual_seed(0)  # the new score head's weights
    cross_encoder = load_model(models.CROSS_ENCODER, None)
    monkeypatch.setattr(models, "cpu_bf16", lambda: False)
    full = score_pairs(cross_encoder, PAIRS, batch_size=4)
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    mixed = score_pairs(cross_encoder, PAIRS, batch_size=4)
    assert full.dtype == mixed.dtype == float and full.shape == mixed.shape == (len(PAIRS),)
    assert abs(mixed - full).max() < 0.01
    assert list(mixed.argsort()) == list(full.argsort())
