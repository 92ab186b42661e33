"""Property-based tests (hypothesis) of config validation and of Algorithm 1."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wtmlib.config import ConfigError
from wtmlib.data import SyntheticConfig, make_synthetic, pattern_class
from wtmlib.config import ENGINES, Execution, TrainConfig


@st.composite
def valid_synthetic(draw):
    n_pat = 2 * draw(st.integers(1, 5))
    l_pat = draw(st.integers(1, 4))
    overlap = draw(st.booleans())
    n_dim = draw(st.integers(l_pat if overlap else n_pat * l_pat, 40))
    per = draw(st.integers(1, 6))
    return SyntheticConfig(n_dim=n_dim, l_pat=l_pat, n_pat=n_pat, n_train=per * n_pat,
                           n_test=n_pat, delta=draw(st.floats(0.0, 3.0)),
                           sigma_train=draw(st.floats(0.01, 2.0)),
                           sigma_test=draw(st.floats(0.01, 2.0)), overlap=overlap,
                           seed=draw(st.integers(0, 2**31)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_synthetic())
def test_generator_invariants_hold_for_any_valid_config(cfg):
    d = make_synthetic(cfg)
    assert torch.allclose(d.x_train.norm(dim=1), torch.ones(cfg.n_train), atol=1e-5)
    assert torch.equal(d.y_train, pattern_class(cfg.n_pat)[d.p_train])
    assert torch.equal(torch.bincount(d.p_train, minlength=cfg.n_pat),
                       torch.full((cfg.n_pat,), cfg.n_train // cfg.n_pat))
    assert (d.masks.sum(1) == cfg.l_pat).all()
    if not cfg.overlap:
        assert (d.masks.sum(0) <= 1).all()
    again = make_synthetic(cfg)
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.x_test, again.x_test)


BAD_SYNTHETIC = st.one_of(
    st.tuples(st.just("sigma_train"), st.floats(max_value=-1e-9) | st.just(math.nan)),
    st.tuples(st.just("sigma_test"), st.floats(max_value=-1e-9) | st.just(math.inf)),
    st.tuples(st.just("n_pat"), st.integers(-5, 1) | st.integers(1, 50).map(lambda k: 2 * k + 1)),
    st.tuples(st.just("n_dim"), st.integers(-10, 0) | st.text(max_size=3) | st.just(1.5)),
    st.tuples(st.just("delta"), st.floats(max_value=-1e-9)),
    st.tuples(st.just("overlap"), st.integers() | st.text(max_size=2)),
    st.tuples(st.just("seed"), st.integers(max_value=-1)),
)


@settings(max_examples=80, deadline=None)
@given(BAD_SYNTHETIC)
def test_invalid_synthetic_configs_name_the_parameter(bad):
    name, value = bad
    with pytest.raises(ConfigError, match=name):
        SyntheticConfig(**{name: value})


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.tuples(st.just("lr"), st.floats(max_value=0.0) | st.just(math.nan)),
    st.tuples(st.just("epochs"), st.integers(max_value=0)),
    st.tuples(st.just("batch_size"), st.integers(max_value=-1)),
    st.tuples(st.just("optimizer"), st.text(max_size=6).filter(lambda s: s not in ("sgd", "layca"))),
    st.tuples(st.just("lr_decay_factor"), st.floats(max_value=0.0)),
))
def test_invalid_train_configs_name_the_parameter(bad):
    name, value = bad
    with pytest.raises(ConfigError, match=name):
        TrainConfig(**{name: value})


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.tuples(st.just("threads"), st.integers(max_value=-1)),
    st.tuples(st.just("workers"), st.integers(max_value=-1)),
    st.tuples(st.just("batch_models"), st.integers(max_value=-1)),
    st.tuples(st.just("checkpoint_every_s"), st.floats(max_value=-1e-9) | st.just(math.inf)),
    st.tuples(st.just("engine"), st.text(max_size=9).filter(lambda s: s not in ENGINES)),
))
def test_invalid_execution_settings_name_the_parameter(bad):
    name, value = bad
    with pytest.raises(ConfigError, match=name):
        Execution(**{name: value})
