"""Loading what a user supplies is safe (issue 17 §C): Keras models only with safe_mode on, no pickle from a path,
downloads only through shared.data.fetch (sha256, or a logged hash for files updated in place)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for d in ("projects", "shared") for p in (ROOT / d).rglob("*.py"))

UNSAFE = {
    "a Keras model loaded with safe_mode off": re.compile(r"safe_mode\s*=\s*False"),
    "pickle": re.compile(r"\b(pickle|cPickle|dill|cloudpickle)\.loads?\(|\bjoblib\.load\("),
    "numpy arrays with pickled objects": re.compile(r"allow_pickle\s*=\s*True"),
    "a download that bypasses shared.data.fetch": re.compile(
        r"\b(urllib\.request\.urlopen|urlretrieve|requests\.get|pooch\.retrieve)\("),
}


def test_no_unsafe_loading_in_the_code():
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for what, pattern in UNSAFE.items():
            if path.name == "data.py" and path.parent.name == "shared" and what.startswith("a download"):
                continue  # fetch itself
            found += [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {what}"
                      for m in pattern.finditer(text)]
    assert not found, "\n".join(found)
