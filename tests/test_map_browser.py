"""The HTML word map in a real browser: headless Chromium draws the points and finds a word.

Skipped where Chromium is not installed (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from embedkit.plots.page import write_map_page
from embedkit.plots.wordmap import word_map
from embedkit.vectors import KeyedVectors

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="headless Chromium is not installed "
                                "(Debian package 'chromium'): the HTML map is not opened")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=5000", "--window-size=900,700"]
BLUE, VERMILLION = (0x00, 0x72, 0xB2), (0xD5, 0x5E, 0x00)


def chromium(tmp_path, url: str, *action: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # fresh each run
    done = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", *action, url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def pixels_near(path, colour, tolerance=40) -> int:
    from PIL import Image
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    return int((np.abs(rgb - np.array(colour)).sum(axis=1) < tolerance).sum())


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(120)] + ["needle", "東京"]
    vectors = rng.standard_normal((len(words), 10)).astype(np.float32)
    path = tmp_path_factory.mktemp("page") / "map.html"
    write_map_page(word_map(KeyedVectors(words, vectors), top=len(words), name="test"), path)
    return path


def test_points_are_drawn(page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(tmp_path, page.as_uri(), f"--screenshot={shot}")
    assert pixels_near(shot, BLUE) > 122 * 15  # every point is a disc of ~38 pixels
    assert pixels_near(shot, VERMILLION) == 0  # nothing highlighted
    dom = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert re.search(r'data-points="122"', dom)
    assert int(re.search(r'data-labels="(\d+)"', dom)[1]) > 20


def test_search_finds_a_word(page, tmp_path):
    url = page.as_uri() + "#search=needle"
    dom = chromium(tmp_path, url, "--dump-dom")
    assert re.search(r'id="status"[^>]*>found “needle”<', dom)
    assert re.search(r'id="tip"[^>]*style="[^"]*display: block', dom)  # its neighbours shown
    shot = tmp_path / "found.png"
    chromium(tmp_path, url, f"--screenshot={shot}")
    assert pixels_near(shot, VERMILLION) > 50  # the ring and label of the word found


def test_search_says_when_a_word_is_not_on_the_map(page, tmp_path):
    dom = chromium(tmp_path, page.as_uri() + "#search=absent", "--dump-dom")
    assert "“absent” is not on this map" in dom
