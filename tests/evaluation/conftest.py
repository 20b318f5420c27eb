"""Fixtures of the evaluation tests."""

from __future__ import annotations

import json

import pytest

from gfm_napari.cli import main


@pytest.fixture
def evaluate_ct(shared_data, tmp_path, capsys):
    """``gfm-napari evaluate`` on the real CT's liver and spleen (2 slices each) with extra arguments; the report."""
    runs = iter(range(1_000))

    def evaluate(*extra: str) -> dict:
        out = tmp_path / f"report{next(runs)}.json"
        argv = ["evaluate", "--image", str(shared_data / "ct_totalseg" / "example_ct_sm.nii.gz"),
                "--label", str(shared_data / "ct_totalseg" / "example_seg.nii.gz"), "--labels", "5,1",
                "--max-slices", "2", "-o", str(out), *extra]
        assert main(argv) == 0
        capsys.readouterr()
        return json.loads(out.read_text())

    return evaluate
