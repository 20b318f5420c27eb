"""Boxes that people drew around objects (Pascal VOC files, as DeepForest ships its tree crowns) become click
training targets: the base model's mask for each box, on every native tile that holds the box whole."""

import numpy as np
import pytest
from scipy import ndimage

from gfm_napari.engine.propagate import dice
from gfm_napari.errors import GfmError
from gfm_napari.images import read_image
from gfm_napari.images.align import labels_on_grid
from gfm_napari.training.recipe import build_objects, read_drawn_boxes


def write_voc(path, boxes):
    objects = "".join(f"<object><name>Tree</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
                      f"<ymax>{y1}</ymax></bndbox></object>" for x0, y0, x1, y1 in boxes)
    path.write_text(f"<annotation><filename>image.png</filename>{objects}</annotation>")
    return path


def test_a_pascal_voc_file_gives_its_boxes_in_pixels(tmp_path):
    path = write_voc(tmp_path / "crowns.xml", [(203, 67, 227, 90), (256.5, 99, 288, 140)])
    assert np.array_equal(read_drawn_boxes(path), [[203, 67, 227, 90], [256.5, 99, 288, 140]])


def test_a_box_without_its_corners_is_a_one_line_error(tmp_path):
    path = tmp_path / "crowns.xml"
    path.write_text("<annotation><object><bndbox><xmin>1</xmin></bndbox></object></annotation>")
    with pytest.raises(GfmError, match=r"cannot read the boxes of .*crowns.xml \(Pascal VOC XML\)"):
        read_drawn_boxes(path)


def test_drawn_boxes_become_the_base_models_masks_on_each_tile_that_holds_them_whole(
    shared_predictor, shared_data, tmp_path
):
    folder = shared_data / "sat_spacenet_atlanta_buildings"
    (tmp_path / "tile.tif").symlink_to(folder / "sample_geotiff.tif")
    tile = read_image(tmp_path / "tile.tif")
    footprints = labels_on_grid(tile, read_image(folder / "buildings_instances_derived.tif"))[:512, :512]
    found = [(label, where) for label, where in enumerate(ndimage.find_objects(footprints), 1) if where]
    ids = [label for label, _ in found]
    boxes = [(cols.start, rows.start, cols.stop, rows.stop) for _, (rows, cols) in found]
    write_voc(tmp_path / "buildings.xml", boxes)  # the footprints' tight boxes in the tile's top-left 512 px
    entry = {"image": "tile.tif", "boxes": "buildings.xml", "domain": "raster", "tile": 256}
    objects = build_objects(shared_predictor, [entry], tmp_path, seed=0, distill=True)
    whole = {(top, left): [i for i, (x0, y0, x1, y1) in enumerate(boxes)
                           if x0 >= left and y0 >= top and x1 <= left + 256 and y1 <= top + 256]
             for top in (0, 256) for left in (0, 256)}
    assert {obj.origin for obj in objects} == {"drawn boxes"} and {obj.domain for obj in objects} == {"raster"}
    assert {obj.name for obj in objects} <= {f"tile.tif@{top},{left}" for top, left in whole}
    assert 0.5 * sum(map(len, whole.values())) <= len(objects) <= sum(map(len, whole.values()))
    first = [obj.target for obj in objects if obj.name == "tile.tif@0,0"]  # a 256 px tile: the frame is its pixels
    truth = [footprints[:256, :256] == ids[i] for i in whole[0, 0]]
    assert np.mean([max(dice(target, t) for t in truth) for target in first]) >= 0.7  # measured 0.83 (2 buildings)
