"""Interactive evaluation: simulated users click (RITM rule) until the mask is good; NoC and mIoU@k.

Objects are the labelled cross-sections chosen exactly as in :mod:`gfm_napari.evaluation.prompted`; each plane is
encoded once. The first prompt is a click or the label's bounding box; up to ``max_clicks`` prompts follow. A first
click is the object's most interior pixel (``first_click="center"``) or drawn at random from its inner half
(``"random"``), with a Generator seeded per object from ``(seed, label id, position among that label's objects)``.
"""

from __future__ import annotations

from ..engine.predictor import Predictor
from ..images import Image
from ..jobs import Job, Progress, run
from ..models import LoadedModel
from .clicker import check_first_click, object_rng, object_summary, simulate, summarise
from .prompted import Selection, prepare


def evaluate_clicks(
    image: Image, label_image: Image, model: LoadedModel, selection: Selection = Selection(), **options
) -> dict:
    """NoC@80/85/90, failures and mIoU@k per structure and over all objects, as a JSON-ready report.

    Each structure also lists its ``per_object`` rows (plane index, label pixels, NoC per target, best IoU), so
    that the slices which hold a mean NoC up can be found and looked at. ``options``: as for
    :func:`evaluate_clicks_job`.
    """
    return run(evaluate_clicks_job(image, label_image, model, selection, **options))


def evaluate_clicks_job(
    image: Image,
    label_image: Image,
    model: LoadedModel,
    selection: Selection = Selection(),
    *,
    start: str = "click",
    max_clicks: int = 20,
    feed_logits: bool = True,
    predictor: Predictor | None = None,
    first_click: str = "center",
    seed: int = 0,
    next_mask: bool = False,
) -> Job[dict]:
    """Job of :func:`evaluate_clicks`: yields Progress per object simulated; ``next_mask``: the user also presses
    Next mask after the first click (:func:`~.clicker.simulate`)."""
    check_first_click(first_click, seed, start=start)
    setting = prepare(image, label_image, model, selection, predictor)
    work = setting.work(selection)
    total, done = sum(len(objects) for _, objects in work), 0
    structures, everything = {}, []
    for label_id, objects in work:
        name = setting.names.get(label_id, str(label_id))
        traces, rows = [], []
        for position, (index, truth) in enumerate(objects):
            yield Progress(done, total, name if index is None else f"{name}, slice {index}")
            trace = simulate(setting.plane(image, index), truth, start=start, max_clicks=max_clicks,
                             feed_logits=feed_logits, first=first_click, next_mask=next_mask,
                             rng=object_rng(seed, label_id, position) if first_click == "random" else None)
            traces.append(trace)
            rows.append({"plane": index, "pixels": int(truth.sum()), **object_summary(trace)})
            done += 1
        structures[name] = {"label": label_id, **summarise(traces), "per_object": rows}
        everything += traces
    yield Progress(done, total, "done")
    return {
        "image": image.source.name,
        "model": model.cache_id,
        "start": start,
        "first_click": first_click,
        "seed": seed if first_click == "random" else None,
        "feed_logits": feed_logits,
        "next_mask": next_mask,
        "zoom": setting.predictor.zoom,
        "axis": setting.axis,
        "overall": summarise(everything) if everything else None,
        "structures": structures,
    }
