"""Progress on the command line: one adapter (a tqdm bar on stderr) for every job the CLI drives; silent when
stderr is not a terminal or with -q; the training commands' `step N/M` lines (read by the dock) stay."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from gfm_napari.cli import build_parser, main
from gfm_napari.cli import models as cli_models
from gfm_napari.cli.progress import ProgressBar, steps
from gfm_napari.engine import segment_file
from gfm_napari.jobs import Progress, run


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _job():
    for done in range(4):
        yield Progress(done, 3, f"slice {done}")
    return "result"


def test_the_bar_draws_on_a_terminal_and_clears_itself():
    stream = Terminal()
    with ProgressBar("segment", stream=stream) as bar:
        assert run(_job(), bar) == "result"
    text = stream.getvalue()
    assert "segment:  67%" in text and "2/3" in text and "slice 2" in text
    assert text.endswith("\r")  # leave=False: the line is wiped when the job ends


def test_the_bar_prints_nothing_off_a_terminal():
    stream = io.StringIO()
    with ProgressBar("segment", stream=stream) as bar:
        run(_job(), bar)
    assert stream.getvalue() == ""


def test_the_bar_prints_nothing_when_quiet():
    stream = Terminal()
    with ProgressBar("segment", quiet=True, stream=stream) as bar:
        run(_job(), bar)
    assert stream.getvalue() == ""


def test_a_new_total_starts_a_new_bar():
    stream = Terminal()
    with ProgressBar(stream=stream) as bar:
        bar(Progress(0, 300, "caching the encoder prefix: plane 1 of 8"))
        bar(Progress(5, 10, "loss 0.5"))
        assert bar._bar.total == 10 and ProgressBar.active == [bar]
    assert ProgressBar.active == []


@pytest.mark.parametrize(("argv", "quiet"), [(["info", "x"], False), (["-q", "info", "x"], True),
                                              (["info", "x", "--quiet"], True)])
def test_quiet_is_a_global_flag_before_or_after_the_command(argv, quiet):
    assert build_parser().parse_args(argv).quiet is quiet


@pytest.mark.parametrize(("quiet", "lines"), [(False, "step 1/3 loss 0.5\n"), (True, "")])
def test_training_step_lines_stay_on_stdout_when_it_is_not_a_terminal(capsys, quiet, lines):
    args = build_parser().parse_args(["train-adapter", "--out", "run", *(["-q"] if quiet else [])])
    report = steps(args, ProgressBar(quiet=args.quiet, stream=Terminal()))
    report(Progress(1, 3, "loss 0.5"))
    assert capsys.readouterr().out == lines


def test_segment_shows_its_job_on_a_terminal_stderr(shared_data, tmp_path, capsys, monkeypatch):
    def job(image, model, **kwargs):
        yield Progress(0, 3, "encoding slice 15")
        yield Progress(2, 3, "slice 16 (120 px)")
        return np.ones(image.spatial_shape, bool)

    monkeypatch.setattr(cli_models, "load", lambda *args, **kwargs: "model")
    monkeypatch.setattr(segment_file, "segment_job", job)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "o.nii.gz"
    argv = ["segment", str(shared_data / "ct_totalseg/example_ct_sm.nii.gz"), "--box", "20,30,60,90", "-o", str(out)]
    assert main(argv) == 0
    assert "encoding slice 15" in terminal.getvalue() and "2/3" in terminal.getvalue()
    terminal.truncate(0)
    assert main(["-q", *argv]) == 0
    assert terminal.getvalue() == ""


def test_the_segmentation_job_reports_encoding_then_propagation(ct, litemedsam):
    reports = []
    mask = run(segment_file.segment_job(ct, litemedsam, points=np.zeros((0, 2)), labels=np.zeros(0),
                                        box=(28, 43, 81, 104), axis=2, index=25, propagate_3d=False), reports.append)
    assert reports == [Progress(0, 1, "encoding slice 25")] and mask[:, :, 25].any()


def test_an_evaluation_job_reports_each_object(ct, shared_data, litemedsam):
    from gfm_napari.evaluation.prompted import Selection, evaluate_prompts_job
    from gfm_napari.images import read_image

    labels = read_image(shared_data / "ct_totalseg" / "example_seg.nii.gz")
    reports = []
    report = run(evaluate_prompts_job(ct, labels, litemedsam, Selection([5], max_slices=2), prompt_kinds=["box"]),
                 reports.append)
    assert [(p.done, p.total) for p in reports] == [(0, 2), (1, 2), (2, 2)]
    assert reports[0].message.startswith("liver, slice ") and report["structures"]["liver"]["objects"] == 2
