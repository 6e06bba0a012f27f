"""Size limits: parsing, formatting, sidecars, and configuration from pyproject.toml."""

from __future__ import annotations

import pytest

from conftest import make_database
from consolidation.config import load_settings, resolve_size_limit
from consolidation.errors import BadInput
from consolidation.size import (
    DEFAULT_SIZE_LIMIT,
    database_size,
    format_size,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("99.9MB", 99_900_000),
        ("95MiB", 95 * 2**20),
        ("1.5GB", 1_500_000_000),
        ("104857600", 104_857_600),
        (104857600, 104_857_600),
        ("100 kb", 100_000),
        ("2KiB", 2048),
        ("512B", 512),
        ("99.9MiB", 104_752_742),  # 104,752,742.4 rounds down: a cap never grows
        (" 1TB ", 10**12),
    ],
)
def test_parse_size_accepts_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "99.9 XB", "-5MB", "0", "0MB", "1e6", "MB", "1,000", "1.2.3MB"])
def test_parse_size_rejects_nonsense_with_one_line(text):
    with pytest.raises(BadInput) as error:
        parse_size(text)
    assert "\n" not in str(error.value)
    assert "size" in str(error.value)


def test_format_size_uses_decimal_units():
    assert format_size(104_200_000) == "104.2 MB"
    assert format_size(99_900_000) == "99.9 MB"
    assert format_size(1_500) == "1.5 KB"
    assert format_size(512) == "512 B"
    assert format_size(2_000_000_000) == "2.0 GB"


def test_database_size_counts_wal_and_journal_but_not_shm(tmp_path):
    database = make_database(tmp_path / "a.db", "CREATE TABLE t (x)")
    main = database.stat().st_size
    (tmp_path / "a.db-wal").write_bytes(b"w" * 1000)
    (tmp_path / "a.db-journal").write_bytes(b"j" * 100)
    (tmp_path / "a.db-shm").write_bytes(b"s" * 32768)
    assert database_size(database) == main + 1100


def test_default_limit_without_pyproject(tmp_path):
    assert load_settings(tmp_path).size_limit == DEFAULT_SIZE_LIMIT == 99_900_000


def test_pyproject_size_limit_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.assetdb]\nsize_limit = "50MB"\n')
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    assert load_settings(tmp_path / "sub" / "deeper").size_limit == 50_000_000
    assert resolve_size_limit(None, tmp_path / "sub") == 50_000_000
    assert resolve_size_limit("1MB", tmp_path / "sub") == 1_000_000  # an option wins


def test_pyproject_integer_limit(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.assetdb]\nsize_limit = 1048576\n")
    assert load_settings(tmp_path).size_limit == 1_048_576


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[tool.assetdb]\nsize_limt = "5MB"\n', "unknown key 'size_limt'"),
        ('[tool.assetdb]\nsize_limit = "lots"\n', "size_limit: invalid size 'lots'"),
        ("[tool.assetdb\n", "not valid TOML"),
        ('[tool]\nassetdb = "big"\n', "must be a table"),
    ],
)
def test_bad_pyproject_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "pyproject.toml").write_text(content)
    with pytest.raises(BadInput, match=message):
        load_settings(tmp_path)


def test_pyproject_without_assetdb_table_means_defaults(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_settings(tmp_path).size_limit == DEFAULT_SIZE_LIMIT
