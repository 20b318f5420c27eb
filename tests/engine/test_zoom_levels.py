"""Choosing the working window around a prompt (pure geometry, no model)."""

import numpy as np

from gfm_napari.engine.prompts import Prompts
from gfm_napari.engine.zoom import ZoomLevels, zoom_above
from gfm_napari.images.windowed import Window

ATLANTA = ZoomLevels((900, 900), 256)  # the SpaceNet tile: 900 px at 0.5 m, a 256 px model


def _click(x, y):
    return Prompts([[x, y]], [1])


def test_ct_and_mr_planes_up_to_twice_the_input_are_segmented_whole():
    ct = ZoomLevels((512, 512), 256, zoom_above("CT"))
    assert not ct.active and ct.choose(_click(10, 10)) is None
    assert ZoomLevels((513, 300), 256, zoom_above("MR")).active


def test_rasters_and_photos_larger_than_the_input_are_zoomed():
    assert zoom_above("raster") == zoom_above("photo") == 1.0
    assert ZoomLevels((512, 512), 256, zoom_above("raster")).sides() == [256]
    assert not ZoomLevels((256, 200), 256, zoom_above("photo")).active


def test_levels_double_from_native_resolution_up_to_the_whole_plane():
    assert ATLANTA.sides() == [256, 512]
    assert ZoomLevels((2048, 3072), 256).sides() == [256, 512, 1024, 2048]


def test_a_click_gets_a_native_window_with_it_a_quarter_side_from_the_edges():
    for x, y in [(300, 300), (333, 471), (128, 600), (700, 129)]:
        window = ATLANTA.choose(_click(x, y))
        assert (window.rows, window.cols) == (256, 256)
        assert min(x - window.col, window.col + 255 - x, y - window.row, window.row + 255 - y) >= 64


def test_a_click_near_the_plane_border_gets_the_window_on_that_border():
    assert ATLANTA.choose(_click(3, 890)) == Window(644, 0, 256, 256)


def test_a_box_gets_the_smallest_level_that_holds_it_with_a_margin():
    assert ATLANTA.choose(Prompts(box=(400, 400, 440, 430))).rows == 256
    window = ATLANTA.choose(Prompts(box=(300, 300, 520, 500)))  # 221 px: too big for a 256 px window with margins
    assert window.rows == 512 and window.row <= 300 - 64 and window.row + 512 >= 500 + 64
    assert ATLANTA.choose(Prompts(box=(10, 10, 880, 880))) is None  # the whole plane
    assert ATLANTA.choose(_click(450, 450), at_least=512).rows == 512


def test_a_mask_touching_an_edge_inside_the_plane_asks_for_more_context():
    window = Window(0, 128, 256, 256)  # on the plane's top edge
    mask = np.zeros((256, 256), bool)
    mask[0, 100] = True  # the plane's own border: the object ends there
    assert not ATLANTA.touches_inner_edge(window, mask)
    mask[100, 255] = True  # the window's right edge, inside the plane: it goes on
    assert ATLANTA.touches_inner_edge(window, mask)
    assert ATLANTA.larger(window, _click(250, 100)).rows == 512


def test_an_object_keeps_its_window_while_its_prompts_fit_in_it():
    window = Window(128, 128, 256, 256)
    assert ATLANTA.keeps(window, Prompts([[130, 130], [383, 383]], [1, 0]))
    assert not ATLANTA.keeps(window, Prompts([[130, 130], [384, 300]], [1, 0]))
    assert ATLANTA.keeps(None, _click(899, 899))
