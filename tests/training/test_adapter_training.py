"""The adapter preset: planes split without mixing, only the adapters train, validation Dice rises on a real
structure where the base model is weak (MNI152 white matter), and the result is an adapter file the model loads."""

import dataclasses

import numpy as np
import pytest
import torch

from gfm_napari.engine.tiles import intersects
from gfm_napari.errors import GfmError
from gfm_napari.images import read_image
from gfm_napari.images.align import labels_on_grid
from gfm_napari.jobs import run
from gfm_napari.models import AdapterConfig, load_adapter
from gfm_napari.models.adapter_files import read_sidecar
from gfm_napari.training.adapters import AdapterTraining, LabelledImage, export_adapter, split_planes, train_adapter
from gfm_napari.training.loop import LoopConfig

MNI = "mri_brain_mni152"


@pytest.fixture(scope="module")
def white_matter(shared_data):
    image = read_image(shared_data / MNI / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    labels = read_image(shared_data / MNI / "mni152_wm_mask_derived.nii.gz").array
    return LabelledImage(image, np.asarray(labels))


def test_one_volume_is_split_by_slice_blocks_never_mixing(white_matter):
    train, validation = split_planes([white_matter], AdapterTraining(block=8, max_planes=1000))
    train_slices, val_slices = {p.index for p in train}, {p.index for p in validation}
    assert not train_slices & val_slices and len(val_slices) == pytest.approx(len(train_slices) / 4, rel=0.2)
    assert all(p.axis == 2 for p in train + validation)  # the axial axis of this RAS volume
    runs = np.split(np.array(sorted(val_slices)), np.flatnonzero(np.diff(sorted(val_slices)) > 1) + 1)
    assert [len(r) for r in runs] == [8] * len(runs)  # whole blocks of 8 consecutive slices


def test_several_images_are_split_by_image(white_matter):
    other = dataclasses.replace(white_matter)
    train, validation = split_planes([white_matter, other], AdapterTraining(max_planes=1000))
    assert {p.item for p in train} == {0} and {p.item for p in validation} == {1}


def test_too_few_labelled_planes_is_a_clear_error(white_matter):
    labels = np.zeros_like(white_matter.labels)
    labels[:, :, 90] = white_matter.labels[:, :, 90]
    with pytest.raises(GfmError, match="too few labelled planes"):
        split_planes([LabelledImage(white_matter.image, labels)], AdapterTraining())


def atlanta(shared_data) -> LabelledImage:
    """The 900 px SpaceNet tile (0.5 m) with its building footprints, one id each."""
    folder = shared_data / "sat_spacenet_atlanta_buildings"
    tile = read_image(folder / "sample_geotiff.tif")
    return LabelledImage(tile, labels_on_grid(tile, read_image(folder / "buildings_instances_derived.tif")))


def test_one_raster_larger_than_the_input_is_split_by_native_tiles_never_overlapping(shared_data):
    train, validation = split_planes([atlanta(shared_data)], AdapterTraining(max_planes=1000), tile=256)
    assert all((p.tile.rows, p.tile.cols) == (256, 256) for p in train + validation)  # as its clicks see it
    assert len(train) == 12 and len(validation) == 3  # 16 tiles in blocks of 3; a tile touching validation is left out
    assert not any(intersects(t.tile, v.tile) for t in train for v in validation)
    with pytest.raises(GfmError, match="too few labelled planes"):  # shrunk whole, it is a single plane
        split_planes([atlanta(shared_data)], AdapterTraining())


def test_adapter_training_improves_validation_dice_on_white_matter(litemedsam_clicks_plain, white_matter, tmp_path):
    settings = AdapterTraining(
        adapter=AdapterConfig(kind="lora", rank=8, last_n_blocks=1), batch_size=4, max_planes=6, augmentations=1,
        loop=LoopConfig(steps=20, lr=3e-3, warmup=5, val_every=20, checkpoint_every=20),
    )
    labels = white_matter.labels.copy()
    labels[:, :, :60] = 0
    labels[:, :, 110:] = 0
    data = [LabelledImage(white_matter.image, labels)]
    base_state = {k: v.clone() for k, v in litemedsam_clicks_plain.segmenter.state_dict().items()}
    result = run(train_adapter(litemedsam_clicks_plain, data, settings, tmp_path))
    first, best = _validation_scores(tmp_path)
    assert best - first >= 0.08, (first, best)  # measured 0.41 -> 0.60
    assert result["best_step"] == 20
    assert all(torch.equal(v, base_state[k]) for k, v in litemedsam_clicks_plain.segmenter.state_dict().items())
    path = export_adapter(litemedsam_clicks_plain, settings, tmp_path, tmp_path / "wm")
    adapted = load_adapter(litemedsam_clicks_plain, path)
    assert adapted.model_id.startswith(litemedsam_clicks_plain.model_id + "+adapter-")
    assert read_sidecar(path)["prompt_path"] is None  # an MR volume: over the main (medical) prompt path


def test_an_adapter_trained_on_a_raster_is_trained_and_loaded_over_the_raster_path(
    litemedsam_clicks_plain, shared_data, tmp_path
):
    settings = AdapterTraining(
        adapter=AdapterConfig(kind="lora", rank=4, last_n_blocks=1), batch_size=2, max_planes=1, augmentations=0,
        loop=LoopConfig(steps=1, warmup=0, val_every=1, checkpoint_every=1),
    )
    summary = run(train_adapter(litemedsam_clicks_plain, [atlanta(shared_data)], settings, tmp_path))
    assert summary["prompt_path"] == "raster"
    assert (summary["train_planes"], summary["validation_planes"]) == (1, 3)  # one image: split by native tiles
    path = export_adapter(litemedsam_clicks_plain, settings, tmp_path, tmp_path / "buildings")
    assert read_sidecar(path)["prompt_path"] == "raster"
    adapted = load_adapter(litemedsam_clicks_plain, path)
    raster = litemedsam_clicks_plain.decoder_for("raster").mask_decoder.state_dict()
    assert all(torch.equal(v, raster[k]) for k, v in adapted.segmenter.mask_decoder.state_dict().items())
    assert adapted.decoder_for("CT") is adapted.decoder_for("raster") is adapted.segmenter  # it answers every image


def _validation_scores(run_dir):
    import json

    scores = [json.loads(line)["val"]["score"] for line in (run_dir / "log.jsonl").read_text().splitlines()
              if '"val"' in line]
    return scores[0], max(scores)
