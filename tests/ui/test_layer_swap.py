"""napari itself on this machine's OpenGL: removing an image and adding another while labels layers (one with data),
shapes and points layers exist must not crash the viewer (napari#8471, #6472 report crashes in ``glDrawArrays``
there). Each run is a fresh process on the test's X display, without torch: a crash kills only it."""

import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("layer_swap_child.py")


@pytest.mark.gui
@pytest.mark.parametrize("ndim", [2, 3])
def test_swapping_the_image_under_labels_shapes_and_points_draws_without_crashing(ndim):
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(CHILD), str(ndim)],
        check=False, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "OK", (done.stdout, done.stderr[-3000:])
