"""Dataset pipeline: data dir resolution, IDX (MNIST) and SHD-layout readers, rate coding,
embedded subsets and the ``load_split`` dispatcher.

Synthetic files are written to ``tmp_path``; tests on the real data skip cleanly when
``../shared/data`` (or ``$INTSNN_DATA``) is absent.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from intsnn.sw import datadir, datasets, embedded, encoding, mnist, shd

# ---------------------------------------------------------------------------------------------
# helpers


def real_data_dir() -> Path | None:
    env = os.environ.get("INTSNN_DATA")
    p = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return p if p.is_dir() else None


def need_real(sub: str) -> Path:
    """The real data root holding ``sub`` (skip the test when it is absent)."""
    root = real_data_dir()
    if root is not None and root.name == sub:
        root = root.parent
    if root is None or not (root / sub).is_dir():
        pytest.skip(f"real data folder {sub!r} not available")
    return root


def write_idx(path: Path, arr: np.ndarray, magic: int | None = None, gz: bool = True,
              extra: bytes = b"", cut: int = 0) -> Path:
    arr = np.asarray(arr, dtype=np.uint8)
    magic = (0x0800 | arr.ndim) if magic is None else magic
    raw = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    raw += arr.tobytes() + extra
    if cut:
        raw = raw[:-cut]
    if gz:
        path.write_bytes(gzip.compress(raw, compresslevel=1))
    else:
        path.write_bytes(raw)
    return path


def write_shd(path: Path, times, units, labels, speaker=None, skip=(), label_dtype=np.uint16):
    with h5py.File(path, "w") as f:
        if "spikes/times" not in skip:
            d = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
            for i, t in enumerate(times):
                d[i] = np.asarray(t, dtype=np.float16)
        if "spikes/units" not in skip:
            d = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
            for i, u in enumerate(units):
                d[i] = np.asarray(u, dtype=np.uint16)
        if "labels" not in skip:
            f.create_dataset("labels", data=np.asarray(labels, dtype=label_dtype))
        if speaker is not None:
            f.create_dataset("extra/speaker", data=np.asarray(speaker, dtype=np.uint16))
    return path


# Hand-made SHD sample set (times exactly representable in float16 except 0.1).
SHD_TIMES = [[0.0, 0.125, 0.5, 0.875, 1.0], [0.5, 2.0, 2.0], [0.0, 0.0, 0.0], [], [0.1, 1.0]]
SHD_UNITS = [[0, 3, 4, 7, 699], [8, 9, 11], [1, 2, 5], [], [100, 100]]
SHD_LABELS = [0, 1, 2, 1, 2]
SHD_SPEAKER = [0, 0, 1, 1, 0]


def expected_frames() -> np.ndarray:
    e = np.zeros((5, 10, 175), np.int64)
    # sample 0, t_max 1.0: frames 0, 1 (1.25), 5, 8 (8.75), 9 (t = t_max -> last frame)
    e[0, 0, 0] += 1; e[0, 1, 0] += 1; e[0, 5, 1] += 1; e[0, 8, 1] += 1; e[0, 9, 174] += 1
    # sample 1, t_max 2.0: 0.5 -> frame 2; 2.0 -> frame 9 twice; units 8, 9, 11 -> group 2
    e[1, 2, 2] += 1; e[1, 9, 2] += 2
    # sample 2, t_max 0: everything in frame 0; units 1, 2 -> group 0, unit 5 -> group 1
    e[2, 0, 0] += 2; e[2, 0, 1] += 1
    # sample 3 is empty; sample 4: float16(0.1) = 0.09998 -> frame 0, 1.0 -> frame 9
    e[4, 0, 25] += 1; e[4, 9, 25] += 1
    return e


@pytest.fixture
def shd_dir(tmp_path):
    write_shd(tmp_path / "toy_train.h5", SHD_TIMES, SHD_UNITS, SHD_LABELS, SHD_SPEAKER)
    write_shd(tmp_path / "toy_test.h5", SHD_TIMES[:3], SHD_UNITS[:3], [0, 1, 2])
    return tmp_path


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(datadir.ENV_VAR, raising=False)


# ---------------------------------------------------------------------------------------------
# data directory


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("INTSNN_DATA", raising=False)
    assert datadir.resolve_data_dir(None) is None
    assert datadir.resolve_data_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("INTSNN_DATA", str(tmp_path))
    assert datadir.resolve_data_dir(None) == tmp_path
    other = tmp_path / "x"
    other.mkdir()
    assert datadir.resolve_data_dir(other) == other  # explicit beats env
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datadir.resolve_data_dir(tmp_path / "nope")
    with pytest.raises(ValueError, match="empty string"):
        datadir.resolve_data_dir("")  # a mistake, not a request for the default
    assert datadir.resolve_data_dir(datadir.EMBEDDED) is None  # whatever $INTSNN_DATA says
    monkeypatch.setenv("INTSNN_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="INTSNN_DATA"):
        datadir.resolve_data_dir(None)


def test_find_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.bin").write_bytes(b"x")
    (tmp_path / "b.bin").write_bytes(b"x")
    assert datadir.find_file(tmp_path, "a.bin", "mnist") == tmp_path / "sub" / "a.bin"
    assert datadir.find_file(tmp_path / "sub", "a.bin", "mnist") == tmp_path / "sub" / "a.bin"
    assert datadir.find_file(tmp_path, ("zz", "b.bin"), "mnist") == tmp_path / "b.bin"
    with pytest.raises(FileNotFoundError,
                       match=r"'missing\.gz' not found; searched: .*sub.*torchvision"):
        datadir.find_file(tmp_path, "missing.gz", "mnist")
    with pytest.raises(FileNotFoundError, match=r"shd_train\.h5.*Zenke"):
        datadir.find_file(tmp_path, "shd_train.h5", "shd")


# ---------------------------------------------------------------------------------------------
# IDX / MNIST


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labs = np.array([7, 0, 9], np.uint8)
    ip = write_idx(tmp_path / "i", imgs, gz=gz)
    lp = write_idx(tmp_path / "l", labs, gz=gz)
    np.testing.assert_array_equal(mnist.read_idx_images(ip), imgs)
    x, y = mnist.read_mnist_pair(ip, lp)
    assert x.dtype == np.uint8 and x.shape == (3, 784) and y.dtype == np.int64
    np.testing.assert_array_equal(x, imgs.reshape(3, 784))
    np.testing.assert_array_equal(y, [7, 0, 9])


def test_idx_errors(tmp_path):
    imgs = np.zeros((3, 28, 28), np.uint8)
    labs = np.array([1, 2, 3], np.uint8)
    lp = write_idx(tmp_path / "l", labs)
    with pytest.raises(ValueError, match=r"bad IDX magic number 2049.*expected 2051"):
        mnist.read_idx_images(lp)
    with pytest.raises(ValueError, match=r"bad IDX magic number 2051.*expected 2049"):
        mnist.read_idx_labels(write_idx(tmp_path / "w", labs, magic=2051))
    with pytest.raises(ValueError, match=r"file truncated: .* need 2368"):
        mnist.read_idx_images(write_idx(tmp_path / "t", imgs, cut=5))
    with pytest.raises(ValueError, match="trailing bytes"):
        mnist.read_idx_images(write_idx(tmp_path / "x", imgs, extra=b"\0"))
    good = write_idx(tmp_path / "g", imgs).read_bytes()
    (tmp_path / "bad.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        mnist.read_idx_images(tmp_path / "bad.gz")
    with pytest.raises(ValueError, match=r"images are \(27, 28\)"):
        mnist.read_idx_images(write_idx(tmp_path / "s", np.zeros((2, 27, 28), np.uint8)))
    with pytest.raises(ValueError, match=r"count mismatch: .* 3 images but .* 4 labels"):
        mnist.read_mnist_pair(write_idx(tmp_path / "i", imgs),
                              write_idx(tmp_path / "l4", np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r"label 10 at index 1 is out of range 0\.\.9"):
        mnist.read_idx_labels(write_idx(tmp_path / "lr", np.array([0, 10, 3], np.uint8)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.read_idx(tmp_path / "none")


def test_load_mnist_split(tmp_path, no_env):
    n = mnist.MNIST_VAL_SIZE + 5
    sub = tmp_path / "mnist"
    sub.mkdir()
    imgs = np.zeros((n, 28, 28), np.uint8)
    imgs[:, 0, 0] = np.arange(n) % 256
    imgs[:, 0, 1] = np.arange(n) // 256
    labs = (np.arange(n) % 10).astype(np.uint8)
    write_idx(sub / "train-images-idx3-ubyte.gz", imgs)
    write_idx(sub / "train-labels-idx1-ubyte", labs, gz=False)  # plain name accepted too
    write_idx(sub / "t10k-images-idx3-ubyte.gz", imgs[:7])
    write_idx(sub / "t10k-labels-idx1-ubyte.gz", labs[:7])
    ids = lambda x: x[:, 0].astype(int) + 256 * x[:, 1].astype(int)  # noqa: E731
    x, y = mnist.load_mnist(tmp_path, "train")  # parent folder works
    np.testing.assert_array_equal(ids(x), np.arange(5))
    x, y = mnist.load_mnist(sub, "val")
    assert x.shape == (mnist.MNIST_VAL_SIZE, 784)
    np.testing.assert_array_equal(ids(x), np.arange(5, n))  # the LAST 10,000
    np.testing.assert_array_equal(y, np.arange(5, n) % 10)
    x, y = mnist.load_mnist(sub, "test")
    assert x.shape == (7, 784)
    x, y, meta = datasets.load_split("mnist", "val", tmp_path, limit=4)
    assert meta["source"] == "files" and meta["indices"].tolist() == [5, 2505, 5005, 7505]
    np.testing.assert_array_equal(ids(x), meta["indices"])
    with pytest.raises(ValueError, match="split must be one of"):
        mnist.load_mnist(sub, "valid")
    (sub / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz.*MNIST/raw"):
        mnist.load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="no MNIST data directory"):
        mnist.load_mnist(None, "test")


def test_mnist_split_needs_enough_images():
    with pytest.raises(ValueError, match="needs more than 10000"):
        mnist.mnist_split_indices("train", 10_000)


# ---------------------------------------------------------------------------------------------
# SHD layout


def test_shd_frames_hand_computed(shd_dir):
    x, y, meta = shd.load_shd(shd_dir, "train")
    assert x.dtype == np.uint8 and x.shape == (5, 10, 175)
    np.testing.assert_array_equal(x, expected_frames())
    np.testing.assert_array_equal(y, SHD_LABELS)
    assert meta["name"] == "toy" and meta["n_classes"] == 3
    assert meta["saturated"] == 0 and meta["max_count"] == 2
    np.testing.assert_array_equal(meta["speaker"], SHD_SPEAKER)
    np.testing.assert_array_equal(meta["n_spikes"], [5, 3, 3, 0, 2])
    xt, yt, mt = shd.load_shd(shd_dir, "test")
    assert xt.shape == (3, 10, 175) and "speaker" not in mt


def test_shd_saturation_and_params(shd_dir):
    x, _, meta = shd.load_shd(shd_dir, "train", input_bits=1)
    np.testing.assert_array_equal(x, np.minimum(expected_frames(), 1))
    assert meta["saturated"] == 2 and meta["max_count"] == 2
    x, _, _ = shd.load_shd(shd_dir, "train", frames=2, groups=700, input_bits=12)
    assert x.dtype == np.uint16 and x.shape == (5, 2, 1)
    np.testing.assert_array_equal(x[:, :, 0], [[2, 3], [1, 2], [3, 0], [0, 0], [1, 1]])
    with pytest.raises(ValueError, match="groups must divide 700"):
        shd.load_shd(shd_dir, "train", groups=3)
    with pytest.raises(ValueError, match="no validation split"):
        shd.load_shd(shd_dir, "val")


@pytest.mark.parametrize("case, pattern", [
    ("labels_len", r"lengths disagree: spikes/times has 3 samples, spikes/units 3, labels 2"),
    ("sample_len", r"sample 1 has 3 spike times but 2 units"),
    ("unit700", r"unit 700 in sample 2 is outside 0\.\.699"),
    ("missing", r"missing dataset 'spikes/units'"),
    ("neg_label", r"negative label -1"),
    ("gap", r"labels must cover 0\.\.2, but classes \[1\] never occur"),
    ("not_h5", r"not a readable HDF5 file"),
])
def test_shd_corrupt(tmp_path, case, pattern):
    t, u, lab = [list(s) for s in SHD_TIMES[:3]], [list(s) for s in SHD_UNITS[:3]], [0, 1, 2]
    kw = {}
    if case == "labels_len":
        lab = [0, 1]
    elif case == "sample_len":
        u[1] = u[1][:2]
    elif case == "unit700":
        u[2][1] = 700
    elif case == "missing":
        kw["skip"] = ("spikes/units",)
    elif case == "neg_label":
        lab, kw["label_dtype"] = [0, -1, 1], np.int16
    elif case == "gap":
        lab = [0, 2, 2]
    path = tmp_path / "bad_train.h5"
    if case == "not_h5":
        path.write_bytes(b"not hdf5 at all")
    else:
        write_shd(path, t, u, lab, **kw)
    write_shd(tmp_path / "bad_test.h5", t, u, [0, 1, 2])
    with pytest.raises(ValueError, match=pattern):
        shd.load_shd(tmp_path, "train")


def _many_spikes(n, t_end=1.0):
    return list(np.linspace(0.0, t_end, n))


@pytest.mark.parametrize("rule", ["within the sample", "against the file"])
def test_shd_spike_far_beyond_the_recording_is_refused(tmp_path, rule):
    """One spike at 60000 s would squash the rest of its sample into frame 0."""
    t = [_many_spikes(20), _many_spikes(20), _many_spikes(20), _many_spikes(20)]
    u = [[1] * 20 for _ in t]
    if rule == "within the sample":  # two samples: too few for a file median (rule 1)
        t, u = t[:2], u[:2]
        t[1][-1] = 60000.0
        pattern = (r"bad_train.h5: sample 1 has its last spike at 60000 s but all its other 19 "
                   r"spikes by 0.947")
    else:  # a sample of 3 spikes: rule 2 does not apply, the file's median does
        t[1], u[1] = [0.1, 0.2, 60000.0], [1, 1, 1]
        pattern = r"bad_train.h5: sample 1 has a spike at 60000 s, 60,000x the median"
    write_shd(tmp_path / "bad_train.h5", t, u, [0, 1, 0, 1][:len(t)])
    write_shd(tmp_path / "bad_test.h5", t[:1], u[:1], [0])
    with pytest.raises(ValueError, match=pattern):
        shd.load_shd(tmp_path, "train")
    with pytest.raises(ValueError, match=pattern):
        shd.read_shd_file(tmp_path / "bad_train.h5")


def test_shd_chunked_binning_equals_whole_file(shd_dir):
    """Binning two samples at a time (empty sample at a chunk edge) = binning all at once."""
    raw = shd.read_shd_file(shd_dir / "toy_train.h5")
    whole, stats = shd.frame_spikes(raw["times"], raw["units"], raw["lengths"], 10, 4, 1)
    for chunk in (1, 2, 3, 100):
        x, info = shd.bin_shd_file(shd_dir / "toy_train.h5", 10, 4, 1, chunk=chunk)
        np.testing.assert_array_equal(x, whole)
        assert (info["saturated"], info["max_count"]) == (stats["saturated"],
                                                           stats["max_count"])
        np.testing.assert_array_equal(info["t_max"], stats["t_max"])


def test_shd_test_split_may_lack_classes(tmp_path):
    write_shd(tmp_path / "p_train.h5", SHD_TIMES[:3], SHD_UNITS[:3], [0, 1, 2])
    write_shd(tmp_path / "p_test.h5", SHD_TIMES[:2], SHD_UNITS[:2], [0, 2])
    _, y, _ = shd.load_shd(tmp_path, "test")
    assert y.tolist() == [0, 2]


def test_find_shd(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no <name>_train\.h5.*Zenke"):
        shd.find_shd(tmp_path)
    for d, nm in ((a, "foo"), (b, "bar")):
        write_shd(d / f"{nm}_train.h5", SHD_TIMES[:1], SHD_UNITS[:1], [0])
    with pytest.raises(FileNotFoundError, match=r"without its _test\.h5"):
        shd.find_shd(tmp_path)
    write_shd(a / "foo_test.h5", SHD_TIMES[:1], SHD_UNITS[:1], [0])
    assert shd.find_shd(tmp_path) == ("foo", a / "foo_train.h5", a / "foo_test.h5")
    write_shd(b / "bar_test.h5", SHD_TIMES[:1], SHD_UNITS[:1], [0])
    with pytest.raises(ValueError, match=r"several SHD-format data sets.*\['bar', 'foo'\]; "
                                         r"choose one with --data-name NAME"):
        shd.find_shd(tmp_path)
    assert shd.find_shd(tmp_path, "bar")[0] == "bar"
    for s in ("train", "test"):
        write_shd(b / f"shd_{s}.h5", SHD_TIMES[:1], SHD_UNITS[:1], [0])
    assert shd.find_shd(tmp_path)[0] == "shd"  # SHD itself is preferred


# ---------------------------------------------------------------------------------------------
# rate coding


def test_rate_encode_deterministic_and_batch_independent():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    idx = np.arange(1000, 1050)
    full = encoding.rate_encode(imgs, 20, seed=3, epoch=2, indices=idx)
    assert full.dtype == np.uint8 and full.shape == (50, 20, 784)
    assert set(np.unique(full).tolist()) <= {0, 1}
    np.testing.assert_array_equal(full, encoding.rate_encode(imgs, 20, 3, 2, idx))
    perm = rng.permutation(50)[:17]
    part = encoding.rate_encode(imgs[perm], 20, 3, 2, idx[perm])
    np.testing.assert_array_equal(part, full[perm])
    assert not np.array_equal(full, encoding.rate_encode(imgs, 20, 4, 2, idx))  # seed
    assert not np.array_equal(full, encoding.rate_encode(imgs, 20, 3, 3, idx))  # epoch


def test_rate_encode_rate_tracks_intensity():
    img = np.tile(np.arange(256, dtype=np.uint8), 4)[None]  # every intensity 4 times
    x = encoding.rate_encode(img, 2000, seed=11, epoch=0, indices=[7])
    assert x[0, :, img[0] == 0].sum() == 0  # pixel 0 never spikes
    rate = x[0].mean(axis=0)  # (test-side statistics only; the encoder has no float)
    np.testing.assert_allclose(rate, img[0] / 256, atol=0.05)
    per_value = rate.reshape(4, 256).mean(axis=0)
    np.testing.assert_allclose(per_value, np.arange(256) / 256, atol=0.025)
    assert abs(rate.mean() - img[0].mean() / 256) < 0.002
    # identical pixels of one image get independent random values
    assert not np.array_equal(x[0, :, 128], x[0, :, 128 + 256])


def test_rate_encode_errors():
    img = np.zeros((2, 784), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        encoding.rate_encode(img.astype(np.int16), 5, 0, 0, [0, 1])
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        encoding.rate_encode(img.reshape(2, 28, 28), 5, 0, 0, [0, 1])
    with pytest.raises(ValueError, match="indices must be 2 integers"):
        encoding.rate_encode(img, 5, 0, 0, [0])
    with pytest.raises(ValueError, match="timesteps"):
        encoding.rate_encode(img, 0, 0, 0, [0, 1])
    with pytest.raises(ValueError, match="seed"):
        encoding.rate_encode(img, 5, -1, 0, [0, 1])


def test_integer_uniform():
    a = encoding.integer_uniform(5, 1, np.arange(3), n=1000, lo=-3, hi=4)
    assert a.shape == (3, 1000) and a.dtype == np.int64
    assert a.min() == -3 and a.max() == 3
    np.testing.assert_array_equal(a, encoding.integer_uniform(5, 1, np.arange(3), n=1000,
                                                              lo=-3, hi=4))
    np.testing.assert_array_equal(a[2], encoding.integer_uniform(5, 1, 2, n=1000, lo=-3, hi=4))
    assert not np.array_equal(a[0], a[1])
    b = encoding.integer_uniform(0, n=70_000, lo=0, hi=256)
    assert np.bincount(b, minlength=256).min() > 180  # ~273 each
    with pytest.raises(ValueError, match="hi - lo"):
        encoding.integer_uniform(0, n=3, lo=2, hi=2)


# ---------------------------------------------------------------------------------------------
# embedded subsets and dispatcher


def test_embedded_mnist():
    sizes = {"train": 1000, "val": 200, "test": 500}
    for split, n in sizes.items():
        x, y = embedded.load_embedded("mnist", split)
        assert x.dtype == np.uint8 and x.shape == (n, 784) and y.dtype == np.int64
        assert np.bincount(y, minlength=10).tolist() == [n // 10] * 10
        idx = embedded.embedded_meta("mnist", split)["indices"]
        lo, hi = {"train": (0, 50_000), "val": (50_000, 60_000), "test": (0, 10_000)}[split]
        assert idx.min() >= lo and idx.max() < hi and len(set(idx.tolist())) == n
    assert embedded.embedded_path("mnist").stat().st_size < 2_000_000


def test_embedded_shd():
    x, y, m = embedded.load_embedded("shd", "train")
    xt, yt, mt = embedded.load_embedded("fsdd", "test")
    assert x.shape == (500, 10, 175) and xt.shape == (250, 10, 175) and x.dtype == np.uint8
    assert m["name"] == "fsdd_lauscher" and m["n_classes"] == 10
    assert (m["frames"], m["groups"], m["input_bits"]) == (10, 4, 8)
    assert np.bincount(y).tolist() == [50] * 10 and np.bincount(yt).tolist() == [25] * 10
    unseen = set(mt["speaker"].tolist()) - set(m["speaker"].tolist())
    assert unseen == {2}  # lucas, held out like SHD's test speakers
    assert (mt["speaker"] == 2).sum() == 100
    assert embedded.embedded_path("shd").stat().st_size < 2_000_000
    with pytest.raises(ValueError, match="split must be one of"):
        embedded.load_embedded("shd", "val")
    with pytest.raises(ValueError, match="kind must be"):
        embedded.load_embedded("cifar", "train")


def test_load_split_embedded(no_env):
    x, y, m = datasets.load_split("mnist", "val")
    assert m["source"] == "embedded" and x.shape == (200, 784) and m["n_classes"] == 10
    x, y, m = datasets.load_split("shd", "train", limit=50)
    assert m["source"] == "embedded" and x.shape == (50, 10, 175) and m["limit"] == 50
    assert len(m["speaker"]) == len(m["indices"]) == 50
    assert len(set(y.tolist())) == 10  # spread over the file, not the first class only
    _, _, m1 = datasets.load_split("shd", "train", input_bits=1)
    assert m1["saturated"] > 0 and m1["input_bits"] == 1
    with pytest.raises(ValueError, match="framed with frames=10"):
        datasets.load_split("shd", "train", frames=20)
    with pytest.raises(ValueError, match="embedded SHD-format subset is 'fsdd_lauscher'"):
        datasets.load_split("shd", "train", name="shd")
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        datasets.load_split("mnist", "test", limit=0)
    with pytest.raises(ValueError, match="dataset must be one of"):
        datasets.load_split("cifar", "train")


def test_load_split_files_env(shd_dir, monkeypatch):
    monkeypatch.setenv("INTSNN_DATA", str(shd_dir))
    x, y, m = datasets.load_split("shd", "train")
    assert m["source"] == "files" and m["name"] == "toy"
    np.testing.assert_array_equal(x, expected_frames())


# ---------------------------------------------------------------------------------------------
# real data (skipped when absent)


def test_real_fsdd_lauscher():
    root = need_real("fsdd_lauscher")
    x, y, m = shd.load_shd(root, "train", name="fsdd_lauscher")
    xt, yt, mt = shd.load_shd(root / "fsdd_lauscher", "test")
    assert x.shape == (2250, 10, 175) and xt.shape == (750, 10, 175)
    assert int(x[0].sum()) == 4502 and int(xt[0].sum()) == 2061  # data README
    assert int(x.sum(dtype=np.int64)) == 8_535_115 and int(xt.sum(dtype=np.int64)) == 3_643_170
    assert m["saturated"] == 0 and mt["saturated"] == 0
    print(f"fsdd_lauscher max frame count: train {m['max_count']}, test {mt['max_count']}")
    assert m["n_classes"] == mt["n_classes"] == 10
    assert np.bincount(y).tolist() == [225] * 10 and np.bincount(yt).tolist() == [75] * 10
    assert np.bincount(mt["speaker"]).tolist() == [50, 50, 500, 50, 50, 50]
    for split, xr, yr in (("train", x, y), ("test", xt, yt)):  # embedded subset = real data
        xe, ye, me = embedded.load_embedded("shd", split)
        np.testing.assert_array_equal(xe, xr[me["indices"]])
        np.testing.assert_array_equal(ye, yr[me["indices"]])


def test_real_mnist():
    root = need_real("mnist")
    counts = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
              "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}
    xtr, ytr, itr = mnist.load_mnist_indexed(root, "train")
    xva, yva, iva = mnist.load_mnist_indexed(root / "mnist", "val")
    xte, yte = mnist.load_mnist(root, "test")
    assert xtr.shape == (50_000, 784) and xva.shape == (10_000, 784) and xte.shape == (10_000, 784)
    assert iva[0] == 50_000 and iva[-1] == 59_999
    assert np.bincount(np.concatenate([ytr, yva])).tolist() == counts["train"]
    assert np.bincount(yte).tolist() == counts["test"]
    for split, xr in (("train", xtr), ("val", xva), ("test", xte)):
        xe, _ = embedded.load_embedded("mnist", split)
        idx = embedded.embedded_meta("mnist", split)["indices"]
        np.testing.assert_array_equal(xe, xr[idx - (50_000 if split == "val" else 0)])
