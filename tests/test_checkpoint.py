"""raydiff.io.checkpoint: a damaged checkpoint is one CheckpointError naming the file, in raydiff's words.

numpy's own message for an .npz it refuses (pickled data) advises loading it with ``allow_pickle=True``,
which would run whatever code the file holds: the message must never pass that on.
"""

from __future__ import annotations

import numpy as np
import pytest

from raydiff.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, {"iteration": np.array(2), "pool": np.zeros(4)}, {"note": "test"})
    return path


def test_a_checkpoint_reads_back(good):
    arrays, meta = load_checkpoint(good, required=("iteration", "pool"))
    assert int(arrays["iteration"]) == 2 and meta["note"] == "test"


@pytest.mark.parametrize("spoil, fragment", [
    (lambda p: p.write_bytes(b"\x00" * 64), "a corrupt or truncated .npz file"),
    (lambda p: p.write_bytes(p.read_bytes()[:100]), "a corrupt or truncated .npz file"),
    (lambda p: np.savez(p, meta=np.array([{"a": 1}], dtype=object)), "it holds Python objects"),
    (lambda p: np.savez(p, pool=np.zeros(3)), "no 'meta' record"),
    (lambda p: np.savez(p, meta=np.array("[1, 2]")), "its 'meta' record is not a JSON mapping"),
    (lambda p: np.savez(p, meta=np.array("{not json")), "its 'meta' record is not a JSON mapping"),
])
def test_a_damaged_checkpoint_is_one_error_in_our_words(good, spoil, fragment):
    spoil(good)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(good)
    message = str(raised.value)
    assert message.startswith(str(good)) and fragment in message
    assert "allow_pickle" not in message and "\n" not in message


def test_a_missing_array_is_named(good):
    with pytest.raises(CheckpointError, match="lacks the arrays 'adam_m', 'history'"):
        load_checkpoint(good, required=("iteration", "adam_m", "history"))
