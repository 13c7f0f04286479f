"""Optional camera: one still frame from a V4L2 device or the Raspberry Pi camera, and the
guest's live photo as a bounded JPEG.

No camera library is linked in: a still is taken by a command that writes one JPEG/PNG to
stdout, chosen by what the system has (first found wins), or configured explicitly:

    rpicam-still -n -t 1 --width W --height H -o -          Raspberry Pi camera (libcamera)
    ffmpeg -f v4l2 -i DEVICE -frames:v 1 -f image2pipe -    any V4L2 device (USB webcams)
    fswebcam -d DEVICE -r WxH --no-banner -                  V4L2, smaller install

This keeps the terminal's dependencies small and the capture killable on a deadline
(a wedged camera driver must not hang the front desk).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from drivers.barcode.errors import CameraError


@dataclass(frozen=True, slots=True)
class CameraConfig:
    device: str = "/dev/video0"
    width: int = 1280
    height: int = 720
    timeout: float = 5.0
    command: tuple[str, ...] | None = None  # explicit capture command (stdout = one image)


def capture_command(config: CameraConfig) -> list[str]:
    if config.command:
        return list(config.command)
    size = f"{config.width}x{config.height}"
    candidates = [
        ["rpicam-still", "-n", "-t", "1", "--width", str(config.width),
         "--height", str(config.height), "-o", "-"],
        ["ffmpeg", "-loglevel", "error", "-f", "v4l2", "-video_size", size, "-i", config.device,
         "-frames:v", "1", "-f", "image2pipe", "-vcodec", "mjpeg", "-"],
        ["fswebcam", "-q", "-d", config.device, "-r", size, "--no-banner", "-"],
    ]  # fmt: skip
    for command in candidates:
        if shutil.which(command[0]):
            return command
    raise CameraError("no capture tool found (rpicam-still, ffmpeg or fswebcam)")


def still(config: CameraConfig | None = None) -> Image.Image:
    """One frame, or CameraError (no tool, no device, timeout, not an image)."""
    config = config or CameraConfig()
    command = capture_command(config)
    try:
        done = subprocess.run(command, capture_output=True, timeout=config.timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CameraError(f"{command[0]}: {err}") from err
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip()[-200:]
        raise CameraError(f"{command[0]} exited {done.returncode}: {detail}")
    try:
        image = Image.open(io.BytesIO(done.stdout))
        image.load()
    except (OSError, UnidentifiedImageError) as err:
        raise CameraError(f"{command[0]} did not produce an image: {err}") from err
    return image


def guest_photo(image: Image.Image, *, max_side: int = 640, quality: int = 80) -> bytes:
    """The live photo attached to a registration: RGB JPEG, longest side <= max_side."""
    photo = image.convert("RGB")
    photo.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
