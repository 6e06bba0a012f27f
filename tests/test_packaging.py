"""What a user installs: the wheel and the sdist hold what they must, and say who licenses them.

``make dist-check`` goes further: it installs the wheel into a new virtual environment and
runs this whole test suite from the unpacked sdist against it.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import consolidation

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("the wheel and sdist are built from a git checkout (this is one of them already)")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True)
    if built.returncode != 0 and "No module named build" in built.stderr:
        pytest.skip("the build package is not installed (it is in the test extra)")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "deprecat" not in (built.stdout + built.stderr).lower()
    return out


def test_the_wheel_holds_every_package_the_licence_and_the_type_marker(dist):
    [wheel] = dist.glob("*.whl")
    assert wheel.name == f"pytest_assetdb-{consolidation.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("consolidation", "consolidation/sqlite", "consolidation/store", "consolidation/merge",
                    "consolidation/assets", "consolidation/proof", "consolidation/demo", "pytest_assetdb"):
        assert f"{package}/__init__.py" in names, package
    assert {"consolidation/py.typed", "pytest_assetdb/py.typed"} <= names
    info = f"pytest_assetdb-{consolidation.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Typing :: Typed" in metadata
    assert "Requires-Dist: sqlite-utils" in metadata and 'extra == "sqlite-utils"' in metadata
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "assetdb = consolidation.cli:main" in entry_points and "assetdb = pytest_assetdb.plugin" in entry_points


def test_the_sdist_is_a_project_whose_tests_can_run(dist):
    [sdist] = dist.glob("*.tar.gz")
    prefix = f"pytest_assetdb-{consolidation.__version__}/"
    names = {name.removeprefix(prefix) for name in tarfile.open(sdist).getnames()}
    assert {"conftest.py", "LICENSE", "CHANGELOG.md", "README.md", "Makefile", "pyproject.toml"} <= names
    assert {"tests/test_real_repository.py", "tests/data/realworld/NOTICE.md",
            "tests/data/realworld/SHA256SUMS", "databases/monitoring.db"} <= names
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "tests", "databases", "bench", "examples",
                              ".pre-commit-hooks.yaml"],
                             capture_output=True, text=True).stdout.split()
    missing = [name for name in tracked if name not in names]
    assert missing == [], f"tracked files the sdist lacks: {missing}"


def test_the_version_is_written_once():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool.setuptools.dynamic]")[0]
