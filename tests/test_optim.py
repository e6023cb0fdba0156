"""train/optim.py: every optimizer steps, adam_then_sgd switches and resumes exactly, schedules hit their values."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from conftest import write_training_set
from twintrack.cli import main
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.data import discover
from twintrack.train.optim import (
    OPTIMIZERS,
    SCHEDULES,
    AdamThenSGD,
    build_optimizer,
    build_scheduler,
    check_train_config,
    lr_groups,
    on_epoch_start,
    schedule_factor,
)

CPU = torch.device("cpu")


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def tiny_batch(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=gen)
    return x, x.sum(dim=1, keepdim=True) * 0.5


def take_step(model, optimizer, batch) -> float:
    x, y = batch
    loss = ((model(x) - y) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# ------------------------------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds_and_steps(name):
    model = tiny_model()
    before = weights(model)
    optimizer = build_optimizer(name, model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss = take_step(model, optimizer, tiny_batch())
    assert math.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, weights(model)))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_keep_their_own_lr(name):
    model = tiny_model()
    groups = [{"params": model[0].parameters(), "lr": 0.5}, {"params": model[2].parameters()}]
    optimizer = build_optimizer(name, groups, lr=0.01)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.01]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_layer_groups_with_multipliers_work_with_every_optimizer(name):
    model = tiny_model()
    groups = lr_groups(0.01, [(model[0].parameters(), 0.0), (model[2].parameters(), 3.0)])
    optimizer = build_optimizer(name, groups, lr=0.01)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.0, 0.03])
    frozen = weights(model)[:2]
    take_step(model, optimizer, tiny_batch())
    for a, b in zip(frozen, weights(model)[:2]):  # lr 0 (x weight decay 0): the first layer stays put
        assert torch.equal(a, b)


def test_unknown_optimizer_is_a_user_error():
    with pytest.raises(UserError, match="unknown optimizer 'adamw'.*adam_then_sgd"):
        build_optimizer("adamw", tiny_model().parameters(), lr=0.1)


# ---------------------------------------------------------------------------------------------- adam_then_sgd


def test_adam_phase_matches_torch_adam():
    a, b = tiny_model(), tiny_model()
    ours = AdamThenSGD(a.parameters(), lr=0.01, weight_decay=1e-3, sgd_lr=0.1)
    reference = torch.optim.Adam(b.parameters(), lr=0.01, weight_decay=1e-3)
    for seed in range(5):
        take_step(a, ours, tiny_batch(seed))
        take_step(b, reference, tiny_batch(seed))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)


def test_switches_at_switch_epoch_only():
    model = tiny_model()
    optimizer = build_optimizer("adam_then_sgd", model.parameters(), lr=0.01, sgd_lr=0.05)
    for epoch in range(3):
        on_epoch_start(optimizer, epoch, switch_epoch=3)
        assert not optimizer.switched
        take_step(model, optimizer, tiny_batch(epoch))
    on_epoch_start(optimizer, 3, switch_epoch=3)
    assert optimizer.switched
    assert "exp_avg" not in optimizer.state[next(model.parameters())]


def test_given_sgd_lr_is_the_first_sgd_step_times_the_layer_multiplier():
    model = tiny_model()
    groups = lr_groups(0.01, [(model[0].parameters(), 1.0), (model[2].parameters(), 0.5)])
    optimizer = build_optimizer("adam_then_sgd", groups, lr=0.01, momentum=0.9, sgd_lr=0.2)
    take_step(model, optimizer, tiny_batch(0))
    optimizer.switch()
    before = weights(model)
    x, y = tiny_batch(1)
    optimizer.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer.step()
    # First SGD step: the momentum buffer is the gradient itself, so w -= rate x g.
    rates = [0.2, 0.2, 0.1, 0.1]  # layer 0 (weight, bias) at x1, layer 2 at x0.5
    for w0, w1, g, rate in zip(before, weights(model), grads, rates):
        torch.testing.assert_close(w1, w0 - rate * g)


def test_swats_estimate_is_finite_positive_and_sets_the_sgd_rate():
    model = tiny_model()
    optimizer = build_optimizer("adam_then_sgd", model.parameters(), lr=0.01, momentum=0.9, sgd_lr=0.0)
    for seed in range(20):
        take_step(model, optimizer, tiny_batch(seed))
    group = optimizer.param_groups[0]
    estimate = AdamThenSGD.swats_estimate(group)
    assert math.isfinite(estimate) and estimate > 0
    optimizer.switch()
    # The paper's momentum form: SGD steps with (1 - momentum) x estimate on the momentum buffer.
    assert group["lr"] * group["sgd_ratio"] == pytest.approx(0.1 * estimate)


def test_sgd_rate_follows_the_schedule_after_the_switch():
    model = tiny_model()
    optimizer = build_optimizer("adam_then_sgd", model.parameters(), lr=0.01, sgd_lr=0.3)
    scheduler = build_scheduler(optimizer, "step", epochs=10, lr=0.01, lr_final=1e-4, step_epochs=2, step_gamma=0.5)
    for epoch in range(4):
        on_epoch_start(optimizer, epoch, switch_epoch=2, scheduler=scheduler)
        take_step(model, optimizer, tiny_batch(epoch))
        scheduler.step()
    group = optimizer.param_groups[0]
    assert group["lr"] * group["sgd_ratio"] == pytest.approx(0.3 * 0.5)  # switched at epoch 2 (0.3), now epoch 4


@pytest.mark.parametrize("sgd_lr", [0.0, 0.05])
def test_state_dict_round_trip_gives_identical_next_steps(sgd_lr):
    model = tiny_model()
    optimizer = build_optimizer("adam_then_sgd", model.parameters(), lr=0.01, weight_decay=1e-4, sgd_lr=sgd_lr)
    for seed in range(4):
        take_step(model, optimizer, tiny_batch(seed))
    # Through torch.save / weights_only load, as checkpoints do.
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    payload = torch.load(buffer, weights_only=True)
    copy = tiny_model(seed=99)
    copy.load_state_dict(payload["model"])
    restored = build_optimizer("adam_then_sgd", copy.parameters(), lr=0.01, weight_decay=1e-4, sgd_lr=sgd_lr)
    restored.load_state_dict(payload["optimizer"])
    assert restored.param_groups[0]["swats_lambda"] == optimizer.param_groups[0]["swats_lambda"]
    for seed in range(4, 10):
        if seed == 6:
            optimizer.switch()
            restored.switch()
        assert take_step(model, optimizer, tiny_batch(seed)) == take_step(copy, restored, tiny_batch(seed))
    for a, b in zip(model.parameters(), copy.parameters()):
        assert torch.equal(a, b)
    # And once switched: the flag and ratio come back too.
    again = build_optimizer("adam_then_sgd", copy.parameters(), lr=0.01, weight_decay=1e-4, sgd_lr=sgd_lr)
    again.load_state_dict(optimizer.state_dict())
    assert again.switched and again.param_groups[0]["sgd_ratio"] == optimizer.param_groups[0]["sgd_ratio"]


# -------------------------------------------------------------------------------------------------- schedules


def lrs_over(kind: str, epochs: int = 10, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD(tiny_model().parameters(), lr=0.1)
    scheduler = build_scheduler(optimizer, kind, epochs, 0.1, 1e-3, **kwargs)
    out = []
    for epoch in range(epochs + 1):
        on_epoch_start(optimizer, epoch, switch_epoch=0)
        out.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
    return out


def test_exponential_schedule_reaches_lr_final():
    lrs = lrs_over("exponential")
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[5] == pytest.approx(0.1 * (1e-2) ** 0.5)  # halfway in log space: 1e-2
    assert lrs[10] == pytest.approx(1e-3)


def test_step_schedule():
    lrs = lrs_over("step", step_epochs=3, step_gamma=0.5)
    assert lrs[:7] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])


def test_cosine_schedule_runs_from_lr_to_lr_final():
    lrs = lrs_over("cosine")
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[5] == pytest.approx((0.1 + 1e-3) / 2)
    assert lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_constant_schedule():
    assert lrs_over("constant") == pytest.approx([0.1] * 11)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_schedules_keep_group_ratios_and_resume_exactly(kind):
    model = tiny_model()
    groups = lr_groups(0.1, [(model[0].parameters(), 1.0), (model[2].parameters(), 0.1)])
    optimizer = torch.optim.SGD(groups, lr=0.1)
    scheduler = build_scheduler(optimizer, kind, 10, 0.1, 1e-3, step_epochs=2)
    for _ in range(3):
        scheduler.step()
    lr0, lr1 = scheduler.get_last_lr()
    assert lr1 == pytest.approx(0.1 * lr0)
    assert lr0 == pytest.approx(0.1 * schedule_factor(kind, 3, 10, 0.1, 1e-3, 2, 0.1))
    fresh = torch.optim.SGD(lr_groups(0.1, [(model[0].parameters(), 1.0), (model[2].parameters(), 0.1)]), lr=0.1)
    restored = build_scheduler(fresh, kind, 10, 0.1, 1e-3, step_epochs=2)
    restored.load_state_dict(scheduler.state_dict())
    assert restored.get_last_lr() == scheduler.get_last_lr()


# ------------------------------------------------------------------------------------- configs and the trainers


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("optim_data"), count=2, frames=6, seed=200)


@pytest.fixture(scope="module")
def sequences(data_root):
    return discover(data_root)


def test_siamfc_layer_multipliers_give_the_group_lrs(sequences, tmp_path):
    from twintrack.train.siamfc_trainer import SiamFCTrainer

    config = load_config("train_siamfc", {"lr": 0.01, "conv1_lr_mult": 0.0, "conv2_lr_mult": 0.1,
                                          "conv3_lr_mult": 0.5, "head_lr_mult": 2.0, "batch_size": 2,
                                          "search_size": 143})
    trainer = SiamFCTrainer(config, sequences, tmp_path, CPU)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.0, 0.001, 0.005, 0.02])
    backbone = trainer.model.backbone
    first = trainer.optimizer.param_groups[0]["params"]
    assert [id(p) for p in first] == [id(p) for p in backbone.conv1.parameters()]


def test_mdnet_groups_follow_the_multipliers_and_xavier_init(sequences, tmp_path):
    from twintrack.train.mdnet_trainer import MDNetTrainer

    config = load_config("train_mdnet", {"lr": 0.001, "fc6_lr_mult": 10.0, "conv_lr_mult": 0.1, "init": "xavier"})
    trainer = MDNetTrainer(config, sequences, tmp_path, CPU)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.001, 0.01, 0.0001])
    fc4 = next(m for m in trainer.model.head.fc4 if isinstance(m, nn.Linear))
    bound = math.sqrt(6.0 / (fc4.in_features + fc4.out_features))  # xavier_uniform's limit
    assert fc4.weight.abs().max() <= bound
    assert fc4.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("key,value,message", [
    ("optimizer", "adamw", "unknown optimizer 'adamw'"),
    ("lr_schedule", "linear", "unknown lr_schedule 'linear'"),
    ("init", "orthogonal", "unknown init 'orthogonal'"),
])
def test_bad_names_are_user_errors(key, value, message):
    for preset in ("train_siamfc", "train_mdnet"):
        with pytest.raises(UserError, match=message):
            check_train_config(load_config(preset, {key: value}))


def test_adam_then_sgd_needs_a_switch_epoch():
    with pytest.raises(UserError, match="switch_epoch"):
        check_train_config(load_config("train_siamfc", {"optimizer": "adam_then_sgd", "switch_epoch": 0}))


def test_cli_unknown_schedule_exits_2_with_one_line(data_root, tmp_path, capsys):
    argv = ["train", "siamfc", "--data", str(data_root), "--out", str(tmp_path / "run"), "--device", "cpu",
            "lr_schedule=linear"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("twintrack: error: unknown lr_schedule")


def test_train_help_lists_choices(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for word in ("adam_then_sgd", "cosine", "xavier", "switch_epoch", "conv1_lr_mult", "--overfit-batch"):
        assert word in out, word
