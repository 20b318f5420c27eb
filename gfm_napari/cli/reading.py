"""Input images read for a command, with --series-uid / --volume, and what to type when a folder holds several DICOM
series or a NIfTI file is 4D."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GfmError


def read(args: argparse.Namespace):
    """``args.image`` read with the command's --series-uid / --volume."""
    return read_image(args.image, args, picks=True)


def read_image(path: Path, args: argparse.Namespace | None = None, *, picks: bool = False):
    """Read an input image; ``picks``: the command has --series-uid and --volume (segment, info). A folder with
    several DICOM series, or a 4D NIfTI, is refused with what to type on the command line."""
    from ..images import read_image as read_file
    from ..images.dicom import SeriesChoiceError
    from ..images.io import reader_options
    from ..images.nifti import VolumeChoiceError

    options = {}
    if picks and args is not None:
        options = {k: v for k, v in (("series_uid", args.series_uid), ("volume", args.volume)) if v is not None}
        allowed = reader_options(path)
        for key in options:
            if key not in allowed:
                flag, kind = ("--series-uid", "DICOM series") if key == "series_uid" else ("--volume", "4D NIfTI files")
                raise GfmError(f"{flag} applies to {kind} only")
    try:
        return read_file(path, **options)
    except SeriesChoiceError as error:
        raise GfmError(series_message(error, picks)) from None
    except VolumeChoiceError as error:
        raise GfmError(volume_message(error, picks)) from None


def series_message(error, can_pick: bool) -> str:
    """The reader's list of series, each as the option that picks it (``--series-uid ''`` for files without a
    SeriesInstanceUID), or just its UID for commands without --series-uid."""

    def entry(uid: str, description: str | None, count: int) -> str:
        facts = ", ".join([*([] if uid else ["no SeriesInstanceUID"]), *([repr(description)] if description else []),
                           f"{count} slice{'s' if count != 1 else ''}"])
        if can_pick or error.requested is not None:
            return f"--series-uid {uid or repr('')} ({facts})"
        return f"{uid or repr('')} ({facts})"

    listed = "; ".join(entry(*series) for series in error.series)
    if error.requested is not None:
        return f"--series-uid {error.requested!r} is not a series in '{error.source}'; it holds: {listed}"
    found = f"found {len(error.series)} DICOM series in '{error.source}'"
    if can_pick:
        return f"{found}: pick one with {listed}"
    return (f"{found}: {listed}; this command reads a folder of one series: copy one series into a folder of its "
            "own (segment and info pick one with --series-uid)")


def volume_message(error, can_pick: bool) -> str:
    """A 4D NIfTI refused: the --volume range to pick from, or (commands without --volume) how to get one volume."""
    last = error.count - 1
    if error.requested is not None:
        return f"--volume {error.requested} is out of range for '{error.name}' with shape {error.shape} (0..{last})"
    if can_pick:
        return f"'{error.name}' is 4D with shape {error.shape}: pick one volume with --volume 0..{last}"
    return (f"'{error.name}' is 4D with shape {error.shape}: this command reads 2D and 3D images; save one volume as "
            f"a file of its own (segment and info read one with --volume 0..{last})")
