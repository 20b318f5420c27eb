"""The automatic pass's bookkeeping, without a model: the click grid, objects joined across window seams, the label
map painted smallest on top, and objects matched to the truth at IoU >= 0.5."""

import numpy as np

from gfm_napari.engine.auto import PlaneObject, auto_windows, merge_across_windows, paint_objects
from gfm_napari.engine.auto_window import AutoSettings, Candidate, point_grid
from gfm_napari.evaluation.automatic import match_objects, truth_objects
from gfm_napari.images.windowed import Window

PLANE = (100, 160)
LEFT, RIGHT = Window(0, 0, 100, 100), Window(0, 60, 100, 100)  # they share columns 60..99


def _candidate(window: Window, rows: slice, cols: slice, score: float = 0.9) -> Candidate:
    """A rectangle given in plane pixels, as seen (clipped) by ``window``."""
    mask = np.zeros((window.rows, window.cols), bool)
    mask[rows.start - window.row : rows.stop - window.row,
         max(cols.start - window.col, 0) : min(cols.stop - window.col, window.cols)] = True
    return Candidate(window, mask, score, 0.95, cut=False)


def test_the_click_grid_puts_one_click_at_the_centre_of_each_cell():
    grid = point_grid(4, 100, 200)
    assert grid.shape == (16, 2)
    assert sorted(set(grid[:, 0])) == [25.0, 75.0, 125.0, 175.0]
    assert sorted(set(grid[:, 1])) == [12.5, 37.5, 62.5, 87.5]


def test_the_default_grid_keeps_clicks_16_plane_pixels_apart_with_at_least_16_per_side():
    automatic = AutoSettings()
    assert automatic.grid_side(256, 256) == 16  # a native raster window: 16 px apart, as before
    assert automatic.grid_side(512, 512) == 32  # a 512² CT slice, which the model sees shrunk to 256 px
    assert automatic.grid_side(122, 101) == 16  # a small plane keeps the minimum
    assert automatic.grid_side(300, 513) == 33
    assert AutoSettings(points_per_side=8).grid_side(512, 512) == 8  # a given number is kept


def test_a_plane_the_model_sees_whole_is_one_window_and_a_large_raster_is_tiled_at_native_resolution():
    assert auto_windows(Window(0, 0, 512, 512), (512, 512), 256, 2.0) == [Window(0, 0, 512, 512)]
    tiles = auto_windows(Window(0, 0, 512, 512), (900, 900), 256, 1.0)
    assert {(w.rows, w.cols) for w in tiles} == {(256, 256)}
    assert sorted({w.row for w in tiles}) == [0, 128, 256]  # the half-stride grid of the click path's first level
    region = auto_windows(Window(100, 200, 200, 200), (900, 900), 256, 1.0)
    assert region == [Window(100, 200, 200, 200)]


def test_an_object_cut_by_a_window_edge_is_joined_with_its_other_part():
    # a field at columns 40..119 crosses both windows: each window sees part of it, identical where both see
    parts = [_candidate(LEFT, slice(20, 50), slice(40, 120)), _candidate(RIGHT, slice(20, 50), slice(40, 120))]
    (joined,) = merge_across_windows(parts)
    labels, _ = paint_objects([joined], PLANE, min_area=1)
    expected = np.zeros(PLANE, bool)
    expected[20:50, 40:120] = True
    assert np.array_equal(labels == 1, expected)


def test_objects_that_differ_where_both_windows_see_stay_apart():
    a = _candidate(LEFT, slice(20, 50), slice(60, 90))
    b = _candidate(RIGHT, slice(20, 50), slice(80, 140))  # shares columns 80..89 only: IoU 0.2 in the overlap
    assert len(merge_across_windows([a, b])) == 2


def test_a_small_object_stays_visible_on_the_larger_one_around_it_and_ids_follow_reading_order():
    large = np.zeros((100, 100), bool)
    large[10:90, 10:90] = True
    small = np.zeros((10, 10), bool)
    small[2:8, 2:8] = True
    objects = [PlaneObject(Window(0, 0, 100, 100), large, 0.7), PlaneObject(Window(40, 40, 10, 10), small, 0.9)]
    labels, scores = paint_objects(objects, (100, 100), min_area=1)
    assert labels[45, 45] == 2 and labels[20, 20] == 1  # the large object comes first in reading order
    assert scores == {1: 0.7, 2: 0.9}
    assert (labels == 2).sum() == 36


def test_an_object_left_with_fewer_visible_pixels_than_min_area_is_dropped():
    big = np.ones((20, 20), bool)
    tiny = np.ones((3, 3), bool)
    labels, scores = paint_objects([PlaneObject(Window(0, 0, 20, 20), big, 0.8),
                                    PlaneObject(Window(5, 5, 3, 3), tiny, 0.9)], (20, 20), min_area=10)
    assert scores == {1: 0.8} and set(np.unique(labels)) == {1}


def test_found_objects_match_truth_objects_at_iou_half_one_to_one():
    truth = np.zeros((40, 40), np.int32)
    truth[0:10, 0:10], truth[20:30, 20:30] = 1, 2
    found = np.zeros_like(truth)
    found[0:10, 0:8] = 7  # IoU 0.8 with object 1
    found[20:30, 20:24] = 3  # IoU 0.4 with object 2: no match
    found[35:40, 35:40] = 9  # nothing there
    result = match_objects(truth, found)
    assert (result["truth"], result["found"], result["matched"]) == (2, 3, 1)
    assert np.isclose(result["ious"][0], 0.8)


def test_truth_objects_are_labels_or_their_connected_components_above_min_pixels():
    labels = np.zeros((30, 30), np.int32)
    labels[0:5, 0:5] = 4
    labels[10:20, 10:20] = 4
    labels[25:27, 25:27] = 6  # 4 pixels: below min_pixels
    assert np.unique(truth_objects(labels, 10, instances=False)).tolist() == [0, 1]
    assert np.unique(truth_objects(labels, 10, instances=True)).tolist() == [0, 1, 2]
