"""Activity counts of the golden model (intsnn.golden.activity), checked by hand."""

import numpy as np
import pytest

from intsnn.golden import activity as A
from intsnn.golden.config import LayerParams, NetConfig
from intsnn.golden.model import SampleRecord


def tiny(**kw):
    base = dict(n_in=3, n_hidden=2, n_out=2, timesteps=2, shadow_bits=8, inference_bits=4,
                batch_size=2, alpha=4, clip=64, hidden=LayerParams(5, 3, 2, None),
                output=LayerParams(5, 3, 2, None))
    return NetConfig(**{**base, **kw})


def record(x, v_hidden=((0, 0), (0, 0))):
    """Observables chosen by hand (only what the counts read)."""
    a = lambda v: np.array(v, np.int64)  # noqa: E731
    steps = {"in_spikes": a(x), "v_hidden": a(v_hidden), "s_hidden": a([[1, 0], [0, 1]]),
             "s_output": a([[0, 1], [0, 0]]), "pre_hidden": a([[1, 0, 1], [0, 0, 1]]),
             "pre_output": a([[1, 0], [0, 1]]), "pg_hidden": a([[1, 0], [1, 1]]),
             "pg_output": a([[0, 1], [1, 0]])}
    return SampleRecord(steps, None, None, a([0, 1]), 1, a([0, -4]), a([0, -4]), a([3, 0]),
                        None, None)


def test_counts_of_a_hand_made_sample():
    cfg = tiny()   # widths: voltages 7/6, traces 1, count 2, error 4, vfb 8, delta 10 bits
    act = A.sample_activity(cfg, record([[1, 0, 1], [0, 0, 1]]))
    # 3 input events x H=2 adds, 2 hidden spikes x O=2 adds; decay shifts T*(H+O)=8;
    # 3 compares per neuron and step
    assert act["forward"] == {"add8": 10, "shift8": 8, "cmp8": 24, "read_bits": 92,
                              "write_bits": 68}
    # trace adds 3 + 2 and one count add; nonzero traces decaying 2 + 1
    assert act["traces"] == {"add8": 6, "shift8": 3, "read_bits": 0, "write_bits": 10}
    assert act["error"] == {"shift8": 2, "add8": 1, "cmp8": 1, "read_bits": 0, "write_bits": 0}
    # one nonzero error: H multiplications, no addition
    assert act["feedback"] == {"mul8": 2, "read_bits": 8, "write_bits": 0}
    # output: k = [[0,1],[1,0]], feedback only on n=1 -> 1 pair, k=1; hidden: k row 0 =
    # [1,0,2] with feedback 3 -> 2 pairs, k sum 3 -> 1 correlation add; deltas are 10 bits
    assert act["delta"] == {"add8": 1, "mul8": 3, "add32": 3, "read_bits": 30, "write_bits": 30}
    assert A.total(act)["add8"] == 18
    assert A.sample_activity(cfg, record([[1, 0, 1], [0, 0, 1]]), train=False)["delta"] == {
        "read_bits": 0, "write_bits": 0}


def test_multibit_inputs_recurrent_events_and_saturation():
    cfg = tiny(arch="rsnn", voltage_bits=12, rec_shift=2, input_bits=3)
    act = A.sample_activity(cfg, record([[2, 0, 5], [0, 0, 1]], v_hidden=[[8, 3], [0, 0]]))
    fw = act["forward"]
    assert fw["mul8"] == 6                  # 3 events x H, 4-bit weight x 3-bit input
    assert fw["mul32"] == 2                 # B16 = [2, 0] at t=0: 1 event x H, 4 x 10 bits
    assert fw["add32"] == 6 + 2 + 4         # input, recurrent and hidden-spike accumulations
    assert fw["cmp32"] == 2 * 4 * 5         # + two saturation compares per neuron and step


def test_update_counts_and_energy():
    cfg = tiny()
    up = A.update_activity(cfg)              # 10 weights, 10-bit deltas, 8-bit shadow weights
    assert up == {"shift32": 10, "cmp32": 40, "add8": 10, "read_bits": 180, "write_bits": 180}
    assert A.energy_pj(up) == pytest.approx(10 * 0.13 + 40 * 0.1 + 10 * 0.03)
    assert A.energy_pj(up, 8) == pytest.approx(10 * 0.024 + 40 * 0.03 + 10 * 0.03)
    with_decay = A.update_activity(tiny(hidden=LayerParams(5, 3, 2, 6), lr_rounding="nearest"))
    assert with_decay["add8"] == 10 + 6 + 6 + 0 and with_decay["add32"] == 10  # offsets


def test_energy_prices_and_the_thesis_table():
    assert A.energy_pj({"add8": 2, "mul32": 1, "shift8": 5, "cmp32": 3, "read_bits": 99}) == \
        pytest.approx(2 * 0.03 + 3.1 + 5 * 0.024 + 3 * 0.1)
    assert A.energy_pj({"add64": 1, "mul64": 1}) == pytest.approx(0.2 + 12.4)
    t = A.thesis_table_3_2()["Total Operations"]
    assert t["energy_uj_8bit"] == 27.204   # 118,798,715 x 0.03 + 118,201,405 x 0.2 pJ
    assert A.width_class(8) == 8 and A.width_class(9, 3) == 32 and A.width_class(33) == 64
    with pytest.raises(ValueError, match="width must be None, 8 or 32"):
        A.energy_pj({}, 16)


@pytest.mark.parametrize("kw,expected", [
    # argmax 1 compare (2-bit counts); the loss: 2 shifts (alpha = 4), the label's subtraction;
    # error neurons' voltages are 9 bits (T*(|e|max 4 + threshold 64) = 136): the 32-bit column
    ({"error_mode": "final"}, {"cmp8": 1, "shift8": 2, "add8": 1, "add32": 2 * 3,
                               "cmp32": 2 * 2}),
    ({"error_mode": "feedback", "soft_error_start": 0},   # the loss and 2 neurons at 2 steps
     {"cmp8": 1, "shift8": 4, "add8": 2, "add32": 2 * 2 * 6, "cmp32": 2 * 2 * 2}),
    ({"loss": "positive"}, {"cmp8": 1 + 2, "shift8": 2, "add8": 1}),
])
def test_error_modes_and_losses(kw, expected):
    act = A.sample_activity(tiny(**kw), record([[1, 0, 1], [0, 0, 1]]))
    assert act["error"] == {**expected, "read_bits": 0, "write_bits": 0}


def test_unsupported_configs_fail_clearly():
    with pytest.raises(ValueError, match="arch 'snn' and 'rsnn'"):
        A.update_activity(NetConfig(arch="csnn", n_hidden=4608))
