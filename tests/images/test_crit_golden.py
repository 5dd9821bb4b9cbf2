"""Every image of every fixture decodes to exactly what CRIU 4.2.1's crit printed, and encodes back.

fixtures/golden/<fixture>/decode/<image>.json is ``crit decode -i <image>``, show/ is
``crit show <image>``; both were made by crit itself from the same checkpoints.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from checkforensics.archive import Checkpoint
from checkforensics.images.codec import decode_image, encode_image
from checkforensics.images.crit_json import dict_to_image, image_to_dict
from checkforensics.images.load import resolve_image_member

from conftest import GOLDEN, GOLDEN_SOURCES

# Where crit 4.2.1 is wrong, and so its golden output is not the target.
CRIT_WRONG = {
    # Both SysV segments have in_pagemaps (their content is in pagemap-shmem, not after the
    # entry); crit reads the second entry as the first one's content and lists one segment.
    ("scenario-ns", "ipcns-shm-11.img"): 2,  # the entries there really are
    # The same with PostgreSQL's three segments: crit shows the first, the other two as its bytes.
    ("scenario-postgres", "ipcns-shm-9.img"): 3,
}


def _cases(mode: str) -> list[tuple[str, str]]:
    cases = []
    for fixture in sorted(GOLDEN_SOURCES):
        for path in sorted((GOLDEN / fixture / mode).glob("*.json")):
            cases.append((fixture, path.name.removesuffix(".json")))
    return cases


@cache
def _checkpoint(fixture: str) -> Checkpoint:
    return Checkpoint.open(GOLDEN_SOURCES[fixture])


def _image_bytes(fixture: str, image: str) -> tuple[bytes, str]:
    checkpoint = _checkpoint(fixture)
    member = resolve_image_member(checkpoint, image)
    return checkpoint.read(member), f"{fixture}:{member}"


def _golden_text(fixture: str, mode: str, image: str) -> str:
    return (GOLDEN / fixture / mode / f"{image}.json").read_text()


def test_every_fixture_has_golden_outputs() -> None:
    assert len(_cases("decode")) >= 90
    assert {fixture for fixture, _ in _cases("show")} == set(GOLDEN_SOURCES)


@pytest.mark.parametrize(("fixture", "image"), _cases("decode"))
def test_decode_matches_crit(fixture: str, image: str) -> None:
    data, where = _image_bytes(fixture, image)
    ours = json.dumps(image_to_dict(decode_image(data, where), pretty=False))
    if (fixture, image) in CRIT_WRONG:
        assert len(json.loads(ours)["entries"]) == CRIT_WRONG[fixture, image]
        assert ours != _golden_text(fixture, "decode", image).rstrip("\n")
        assert encode_image(dict_to_image(json.loads(ours))) == data
        return
    assert ours == _golden_text(fixture, "decode", image).rstrip("\n")


@pytest.mark.parametrize(("fixture", "image"), _cases("show"))
def test_show_matches_crit(fixture: str, image: str) -> None:
    data, where = _image_bytes(fixture, image)
    ours = json.dumps(image_to_dict(decode_image(data, where), pretty=True), indent=4)
    if (fixture, image) in CRIT_WRONG:
        assert len(json.loads(ours)["entries"]) == CRIT_WRONG[fixture, image]
        assert encode_image(dict_to_image(json.loads(ours))) == data
        return
    assert ours == _golden_text(fixture, "show", image).rstrip("\n")


@pytest.mark.parametrize(("fixture", "image"), _cases("decode"))
def test_encode_of_crit_json_gives_original_bytes(fixture: str, image: str) -> None:
    if (fixture, image) in CRIT_WRONG:
        pytest.skip("crit's JSON of this image is wrong (see CRIT_WRONG); ours is checked above")
    data, _ = _image_bytes(fixture, image)
    document = json.loads(_golden_text(fixture, "decode", image))
    assert encode_image(dict_to_image(document)) == data


@pytest.mark.parametrize(("fixture", "image"), _cases("show"))
def test_encode_of_pretty_json_gives_original_bytes(fixture: str, image: str) -> None:
    if (fixture, image) in CRIT_WRONG:
        pytest.skip("crit's JSON of this image is wrong (see CRIT_WRONG); ours is checked above")
    data, _ = _image_bytes(fixture, image)
    document = json.loads(_golden_text(fixture, "show", image))
    assert encode_image(dict_to_image(document)) == data
