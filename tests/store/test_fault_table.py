"""docs/FAULTS.md is generated from the tests' fault markers (docs/faults.py) and kept current."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("faults", ROOT / "docs" / "faults.py")
faults = sys.modules["faults"] = importlib.util.module_from_spec(spec)  # docs/ is no package
spec.loader.exec_module(faults)


def test_the_fault_table_is_current():
    assert faults.main(["--check"]) == 0, "run python docs/faults.py"


def test_each_row_names_a_marked_test_and_its_cells(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.fault('A <b>thing</b> | breaks', sees='a message', kept='everything')\n"
        "def test_one():\n    pass\n\n\n"
        "def test_unmarked():\n    pass\n"
    )
    rows = faults.faults(tmp_path)
    assert [(r.fault, r.sees, r.kept, r.test.split("::")[1]) for r in rows] == [
        ("A <b>thing</b> | breaks", "a message", "everything", "test_one")
    ]
    assert "| A &lt;b&gt;thing&lt;/b&gt; \\| breaks | a message | everything |" in faults.render(rows)


def test_a_marker_without_what_the_user_sees_is_refused(tmp_path):
    (tmp_path / "test_y.py").write_text(
        "import pytest\n\n\n@pytest.mark.fault('x', kept='y')\ndef test_y():\n    pass\n"
    )
    with pytest.raises(ValueError, match="needs its fault, sees= and kept="):
        faults.faults(tmp_path)
