"""Running work on the Segment dock's session: changes queued in order, cancellable jobs on the plane on screen
with a progress bar (propagate, segment everything, encode the volume), previews of the prompts and encoding
ahead of the user.

A mixin of :class:`~gfm_napari.ui.segment_widget.SegmentWidget`: it uses the dock's ``session``, ``queue``,
progress controls and :meth:`current_plane`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from napari.utils.notifications import show_info

from ..engine.propagate import PropagationSettings
from ..engine.session import SegmentationSession
from ..errors import GfmError
from ..jobs import Progress

# One slice per step, so that Cancel stops a propagation within one slice's encoding.
UI_PROPAGATION = PropagationSettings(batch_size=1)


class SessionTasks:
    """The dock's jobs and queued session changes (see the module)."""

    def propagate(self) -> None:
        """Propagate the current object from the slice on screen through the volume (cancellable)."""

        def apply(session, axis, index, volume):  # also into a session put aside meanwhile: nothing is lost
            session.apply_propagation(axis, index, volume)

        self._run_job(lambda s, a, i: s.propagate_job(a, i, UI_PROPAGATION), apply, "Propagating from slice {}…")

    def segment_everything(self) -> None:
        """Find every object on the plane on screen (in its drawn box, if any) and add each as a new object, as one
        undoable step (cancellable; windows are the progress steps)."""

        def apply(session, axis, index, result):  # also into a session put aside meanwhile: nothing is lost
            added = session.apply_auto(axis, index, result.labels)
            show_info(f"gfm-napari: Segment everything added {added} objects ({result.windows} window(s)); "
                      "Ctrl+Z removes them all")

        self._run_job(lambda s, a, i: s.auto_job(a, i), apply, "Segmenting everything…")

    def encode_volume(self) -> None:
        """Encode every slice along the viewed axis, nearest first (cancellable)."""
        self._run_job(lambda s, a, i: s.embed_job(a, i), lambda *_: None, "Encoding all slices from {}…")

    def cancel(self) -> None:
        if self.queue.cancel_job():
            self._show_progress(False)
            self._show_status("Cancelled")


    def _session_task(
        self, change: Callable[[SegmentationSession], object], *, threaded=False, message="",
        session: SegmentationSession | None = None,
    ) -> None:
        """Queue ``change(session)`` (default: the current session) after everything asked before (in a worker
        when it may use the model)."""
        session = self.session if session is None else session
        if session is None:
            return
        work = partial(change, session)
        if threaded:
            self.queue.run(work, message=message)
        else:
            self.queue.call(work)

    def _plane_on_screen(self) -> tuple[int | None, int | None] | None:
        """The plane on screen as ``(axis, index)`` (:meth:`current_plane`); None, after a notification saying why,
        when there is none to act on (a 3D view)."""
        try:
            return self.current_plane()
        except GfmError as error:
            self._report(error)
            return None

    def _run_job(self, job, done, message: str) -> None:
        """Run ``job(session, axis, index)`` on the plane on screen with a progress bar; ``done(session, axis,
        index, result)`` gets its result."""
        session = self.session
        if session is None:
            return
        plane = self._plane_on_screen()
        if plane is None:
            return
        axis, index = plane
        self._show_progress(True)
        self.progress.setRange(0, 0)
        self.queue.run_job(
            partial(job, session, axis, index), partial(done, session, axis, index), self._on_progress,
            message.format(index),
        )

    def _on_progress(self, progress: Progress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)

    def _queue_previews(self) -> None:
        session = self.session
        for key in session.stale_planes():
            if key in self._pending_previews:
                continue
            self._pending_previews.add(key)
            message = ""
            if session.preview_needs_encoding(*key):
                where = "the image" if key[0] is None else f"slice {key[1]}"
                message = f"Encoding {where} for your prompt…"
            self.queue.run(partial(session.preview, *key), partial(self._preview_done, key), message)

    def _preview_done(self, key, _mask) -> None:
        self._pending_previews.discard(key)

    def _prefetch(self) -> None:
        """Encode the plane on screen, then its neighbours nearest first, in the background (replacing older
        requests; user tasks go first)."""
        session = self.session
        if session is None:
            return
        try:
            axis, index = self.current_plane()
        except GfmError:  # a 3D view, or the cursor outside the image: nothing to guess
            return
        planes = [(axis, index)]
        if axis is not None:
            depth = session.image.spatial_shape[axis]
            nearest = (i for step in range(1, self.prefetch_radius + 1) for i in (index + step, index - step))
            planes += [(axis, i) for i in nearest if 0 <= i < depth]
        self.queue.prefetch([
            (partial(session.embed, *plane), f"Encoding slice {plane[1]}…" if axis is not None else "Encoding…")
            for plane in planes if session.needs_embedding(*plane)
        ])
