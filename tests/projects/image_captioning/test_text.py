"""The one caption normalisation (projects.image_captioning.text)."""

import pytest

from projects.image_captioning.text import normalize, tokens

ODD = ("  A Dog\u2019s \u201cRED\u201d T-shirt!! \uff26\uff35\uff2c\uff2c-width "
       "\ufb01sh,\u00a0Cafe\u0301 \u2014 CAF\u00c9.\t")


def test_rules():
    assert normalize(ODD) == "a dogs red t shirt full width fish café café"
    assert normalize("[start] a cat [end]") == "start a cat end"
    assert normalize("...!?") == ""
    assert tokens("A  big, red car.") == ["a", "big", "red", "car"]
    assert tokens("") == []


@pytest.mark.parametrize("text", [ODD, "x", "", "don't", "3 dogs & 2 cats"])
def test_idempotent(text):
    assert normalize(normalize(text)) == normalize(text)


def test_type_error():
    with pytest.raises(TypeError):
        normalize(None)
