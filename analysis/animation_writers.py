"""Movie encoders that take one RGB(A) frame at a time and never hold the whole movie.

- MP4 (H.264, yuv420p) through the ffmpeg binary that the ``imageio-ffmpeg`` wheel carries
  (``imageio_ffmpeg.get_ffmpeg_exe()``); no system ffmpeg is used or needed. Frames go down
  ffmpeg's stdin as they are rendered.
- GIF through Pillow's frame-level GIF encoder (``PIL.GifImagePlugin.getheader`` /
  ``getdata``): each frame is quantised to its own 256-colour palette (a local colour table)
  and appended to the file at once. ``Image.save(save_all=True)`` would keep every frame in
  memory until the end, which a 600-frame movie cannot afford.

Both write to a temporary file beside the target and rename it into place when the movie is
complete, so an interrupted render never leaves a half-written movie under the final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

FORMATS = (".mp4", ".gif")


def ffmpeg_exe() -> str | None:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg, or None if it is missing."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return None


class MovieWriter:
    """Base class: ``write(frame)`` appends one (H, W, 3|4) uint8 frame; ``close()`` finishes
    the file and moves it to its final name; ``abort()`` removes the partial file.

    Use as a context manager: leaving the block by an exception aborts.
    """

    suffix = ""

    def __init__(self, path, fps: float):
        self.path = Path(path)
        self.fps = float(fps)
        self.n_frames = 0
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.",
                                   suffix=self.suffix)
        os.close(fd)
        self.tmp = Path(tmp)

    def write(self, frame: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _finish(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> Path:
        self._finish()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp's 0600 would surprise a user
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - the original error matters, not this one
            pass
        if self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False


class Mp4Writer(MovieWriter):
    """H.264 MP4 via the imageio-ffmpeg binary. Frame sizes must be even (yuv420p)."""

    suffix = ".mp4"

    def __init__(self, path, fps: float, crf: int = 20):
        super().__init__(path, fps)
        self.crf = crf
        self._gen = None
        self._size = None

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._gen is None:
            import imageio_ffmpeg
            if h % 2 or w % 2:
                raise ValueError(f"MP4 frames need even sizes, got {w}x{h} px")
            self._size = (w, h)
            self._gen = imageio_ffmpeg.write_frames(
                str(self.tmp), (w, h), fps=self.fps, codec="libx264",
                pix_fmt_in="rgba" if frame.shape[2] == 4 else "rgb24", pix_fmt_out="yuv420p",
                macro_block_size=2, ffmpeg_log_level="error", quality=None,
                output_params=["-crf", str(self.crf), "-preset", "fast",
                               "-movflags", "+faststart"])
            self._gen.send(None)
        elif (w, h) != self._size:
            raise ValueError(f"frame {self.n_frames} is {w}x{h} px, the movie {self._size}")
        self._gen.send(np.ascontiguousarray(frame))
        self.n_frames += 1

    def _finish(self) -> None:
        if self._gen is not None:
            gen, self._gen = self._gen, None
            gen.close()


class GifWriter(MovieWriter):
    """Looping GIF via Pillow, one frame at a time (a local 256-colour palette per frame).

    GIF stores frame durations in hundredths of a second, so the frame rate is rounded to
    one of 100/n fps (20 fps stays 20; 30 fps becomes 33.3).
    """

    suffix = ".gif"

    def __init__(self, path, fps: float):
        super().__init__(path, fps)
        self.duration_ms = max(20, 10 * round(100.0 / self.fps))
        self._fh = open(self.tmp, "wb")

    def write(self, frame: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image
        img = Image.fromarray(np.ascontiguousarray(frame[..., :3]), "RGB")
        pal = img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        if self.n_frames == 0:
            header, _ = GifImagePlugin.getheader(pal, info={"loop": 0,
                                                            "duration": self.duration_ms})
            for chunk in header:
                self._fh.write(chunk)
        for chunk in GifImagePlugin.getdata(pal, (0, 0), duration=self.duration_ms,
                                            include_color_table=True):
            self._fh.write(chunk)
        self.n_frames += 1

    def _finish(self) -> None:
        if not self._fh.closed:
            if self.n_frames:
                self._fh.write(b";")  # GIF trailer
            self._fh.close()


def open_writer(path, fps: float) -> MovieWriter:
    """A writer for `path` chosen by its suffix (.mp4 or .gif)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mp4":
        return Mp4Writer(path, fps)
    if suffix == ".gif":
        return GifWriter(path, fps)
    raise ValueError(f"unknown movie format {suffix!r}; accepted: {', '.join(FORMATS)}")
