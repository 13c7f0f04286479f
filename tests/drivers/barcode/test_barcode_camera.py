"""Camera stills through a real subprocess (a stand-in command, or a real device if present)."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from drivers.barcode import camera, synth
from drivers.barcode.errors import CameraError
from drivers.barcode.image import ImageDecoder


def test_still_from_a_capture_command_decodes(tmp_path):
    pytest.importorskip("zxingcpp")
    frame = tmp_path / "frame.jpg"
    synth.place(synth.render("qr", "BK-2026-0042"), synth.Degradation(jpeg_quality=70)).save(
        frame
    )
    config = camera.CameraConfig(command=("cat", str(frame)))
    image = camera.still(config)
    assert image.size == (1280, 720)
    with ImageDecoder("pyzbar", isolate=False) as decoder:
        assert [d.text for d in decoder.decode(image)] == ["BK-2026-0042"]


@pytest.mark.parametrize(
    ("command", "message"),
    [(("false",), "exited 1"), (("echo", "not an image"), "did not produce an image"),
     (("no-such-capture-tool",), "no-such-capture-tool")],
)
def test_capture_failures_are_typed(command, message):
    with pytest.raises(CameraError, match=message):
        camera.still(camera.CameraConfig(command=command))


def test_capture_timeout():
    with pytest.raises(CameraError):
        camera.still(camera.CameraConfig(command=("sleep", "5"), timeout=0.2))


def test_guest_photo_is_a_bounded_jpeg():
    photo = camera.guest_photo(Image.new("RGBA", (1920, 1080), (10, 20, 30, 255)), max_side=320)
    image = Image.open(io.BytesIO(photo))
    assert image.format == "JPEG" and max(image.size) == 320 and image.mode == "RGB"


@pytest.mark.skipif(not os.path.exists("/dev/video0"), reason="no V4L2 device here")
def test_real_device():  # pragma: no cover - only on a terminal with a camera
    assert camera.still().size[0] > 0
