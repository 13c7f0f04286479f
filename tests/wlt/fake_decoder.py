"""A fake WLT decoder library, compiled with gcc at test time, for the wlt/ adapter's tests and
the central server's photo tests. No vendor decoder is used or shipped: it writes a synthetic
102 x 126 BMP whose colour depends on the WLT block, so the ctypes path, buffer handling and BMP
checks run for real.

    library = build_fake_decoder(directory)     # pytest.skip when gcc is missing
    PhotoDecoderConfig(str(library), LICENCE, function="unpack")
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

LICENCE = 602  # the fake decoder's "licence constant"

FAKE_DECODER_C = r"""
#include <string.h>
#include <unistd.h>

static void put16(unsigned char *p, unsigned v) { p[0] = v & 255; p[1] = (v >> 8) & 255; }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 65535); put16(p + 2, v >> 16); }

static void write_bmp(const unsigned char *src, unsigned char *d, int width, int bpp) {
    memset(d, 0, 38862);
    d[0] = 'B'; d[1] = 'M';
    put32(d + 2, 38862); put32(d + 10, 54); put32(d + 14, 40);
    put32(d + 18, (unsigned)width); put32(d + 22, 126);
    put16(d + 26, 1); put16(d + 28, (unsigned)bpp);
    put32(d + 34, 38808);
    /* Bottom-up rows of 308 bytes, BGR: the colour depends on the source so tests can tell. */
    for (int row = 0; row < 126; row++)
        for (int x = 0; x < 102; x++) {
            unsigned char *px = d + 54 + row * 308 + x * 3;
            px[0] = src[11]; px[1] = (unsigned char)row; px[2] = 200;
        }
}

int unpack(char *src, char *dst, int code) {
    if (code != 602) return 0;
    write_bmp((const unsigned char *)src, (unsigned char *)dst, 102, 24);
    return 1;
}

/* Writes well past 38862 bytes, as vendor decoders are known to. */
int unpack_overflowing(char *src, char *dst, int code) {
    int rc = unpack(src, dst, code);
    memset(dst + 38862, 0xAB, 60000 - 38862);
    return rc;
}

int unpack_wrong_size(char *src, char *dst, int code) {
    write_bmp((const unsigned char *)src, (unsigned char *)dst, 100, 24);
    return code == 602;
}

int unpack_raw_bgr(char *src, char *dst, int code) {
    memset(dst, 0x7F, 38556);
    return code == 602;
}

int unpack_failing(char *src, char *dst, int code) { return -5; }

/* A vendor call that hangs for a while (the caller's time bound must not wait for it). */
int unpack_slow(char *src, char *dst, int code) {
    usleep(800000);
    return unpack(src, dst, code);
}
"""


def build_fake_decoder(directory: Path) -> Path:
    """libfakewlt.so built in `directory`; skips the calling test when gcc is missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the fake decoder")
    source = directory / "fake_wlt.c"
    source.write_text(FAKE_DECODER_C)
    library = directory / "libfakewlt.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
    )
    return library


def wlt_block(seed: str) -> bytes:
    """1024 bytes with a WLT header ("WL", 102, 126) and seed-dependent bytes after it: what
    the adapter hands to the library (byte 11 sets the fake decoder's blue channel)."""
    header = b"WL" + struct.pack("<HH", 102, 126)
    return (header + hashlib.sha256(seed.encode("utf-8")).digest()).ljust(1024, b"\x00")
