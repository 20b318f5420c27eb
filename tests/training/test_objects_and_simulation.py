"""Training targets sit in the decoder's frame exactly where the image goes; prompts are simulated as users give them."""

import numpy as np

from gfm_napari.training.objects import to_model_frame
from gfm_napari.training.simulation import first_click, jittered_box


def test_a_real_label_maps_into_the_decoder_frame_with_the_image_scale(ct_labels):
    liver = ct_labels[:, :, 15] == 5  # plane (122, 101) -> resized (256, 212) in a 256 x 256 frame
    target = to_model_frame(liver, 256, 256)
    assert target.shape == (256, 256)
    assert not target[:, 212:].any()  # padding stays empty
    assert abs(target.sum() / liver.sum() - (256 / 122) * (212 / 101)) < 0.1


def test_objects_are_connected_components_of_the_labels_on_one_cached_plane(ct_objects):
    names = {obj.name.split(" label ")[0] for obj in ct_objects}
    assert len(names) == 1  # one plane
    assert all(obj.target.sum() >= 30 and obj.embedding.shape == (1, 256, 64, 64) for obj in ct_objects)
    assert len({id(obj.embedding) for obj in ct_objects}) == 1  # encoded once, shared


def test_first_clicks_land_inside_the_object(ct_objects, rng):
    for obj in ct_objects:
        for _ in range(5):
            x, y = first_click(obj.target, rng)
            assert obj.target[int(y), int(x)]


def test_jittered_boxes_stay_in_the_frame_and_near_the_object(ct_objects, rng):
    for obj in ct_objects:
        rows, cols = np.nonzero(obj.target)
        x0, y0, x1, y1 = jittered_box(obj.target, rng, jitter=0.1)
        assert 0 <= x0 < x1 <= 255 and 0 <= y0 < y1 <= 255
        width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
        assert abs(x0 - cols.min()) <= 0.1 * width + 1e-9 and abs(y1 - rows.max()) <= 0.1 * height + 1e-9
