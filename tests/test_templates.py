"""render: stored templates into scripts, with usage metrics; assets listing; logging."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from consolidation.assets import ingest, list_assets, regenerate, render
from consolidation.assets.templates import placeholders, render_text
from consolidation.errors import BadInput
from consolidation.store import initialize

LIMIT = 99_900_000


@pytest.fixture
def database(tmp_path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / "templates").mkdir(parents=True)
    (workspace / "patterns").mkdir()
    (workspace / "templates" / "job.py.tmpl").write_text("print('${greeting}, ${name}!')  # ${name}\n")
    (workspace / "patterns" / "retry.pattern").write_text("retry ${times} times\n")
    (workspace / "README.md").write_text("# docs\n")
    path = tmp_path / "enterprise_assets.db"
    initialize(path, 99_900_000)
    ingest(workspace, path, limit=LIMIT)
    return path


def usage(database: Path, table: str) -> list[tuple]:
    return sqlite3.connect(database).execute(f"SELECT name, usage_count, last_used IS NOT NULL FROM {table}").fetchall()


def test_render_fills_placeholders_and_counts_the_use(database):
    rendered = render(database, "job.py", {"greeting": "Hello", "name": "world"}, limit=LIMIT)
    assert rendered.text == "print('Hello, world!')  # world\n"
    assert rendered.placeholders == ["greeting", "name"]
    render(database, "templates/job.py.tmpl", {"greeting": "Hi", "name": "you"}, limit=LIMIT)
    assert usage(database, "template_assets") == [("job.py", 2, 1)]
    logged = sqlite3.connect(database).execute(
        "SELECT count(*) FROM cross_database_sync_operations WHERE operation = 'render'"
    ).fetchone()
    assert logged == (2,)


def test_missing_values_are_named_and_nothing_is_counted(database):
    with pytest.raises(BadInput, match="missing values for greeting, name"):
        render(database, "job.py", {}, limit=LIMIT)
    assert usage(database, "template_assets") == [("job.py", 0, 0)]


def test_rendered_script_can_be_stored_as_an_asset(database, tmp_path):
    render(database, "job.py", {"greeting": "Hello", "name": "world"}, store_as="generated/job.py", limit=LIMIT)
    out = tmp_path / "out"
    regenerate(database, out, kinds=("script",), limit=LIMIT)
    assert (out / "generated" / "job.py").read_text() == "print('Hello, world!')  # world\n"


def test_patterns_carry_usage_too_and_listing_sorts_by_use(database):
    render(database, "retry", {"times": "3"}, kind="pattern", limit=LIMIT)
    render(database, "retry", {"times": "5"}, kind="pattern", limit=LIMIT)
    render(database, "job.py", {"greeting": "a", "name": "b"}, limit=LIMIT)
    top = list_assets(database, top_used=True)
    assert [(a.kind, a.name, a.usage_count) for a in top] == [("pattern", "retry", 2), ("template", "job.py", 1)]
    everything = list_assets(database)
    assert {a.path for a in everything} == {"README.md", "templates/job.py.tmpl", "patterns/retry.pattern"}


def test_usage_survives_a_new_version(database, tmp_path):
    render(database, "job.py", {"greeting": "a", "name": "b"}, limit=LIMIT)
    workspace = tmp_path / "ws"
    (workspace / "templates" / "job.py.tmpl").write_text("print('${name}')\n")
    ingest(workspace, database, limit=LIMIT)
    assert sqlite3.connect(database).execute(
        "SELECT version, usage_count FROM template_assets WHERE is_current"
    ).fetchall() == [(2, 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "nope", "--db", "DB"], "no template named 'nope'"),
        (["render", "job.py", "--db", "DB", "--set", "bad key=1"], "use NAME=VALUE"),
        (["render", "job.py", "--db", "DB", "--set", "greeting=x", "--set", "name=y", "--ingest", "--as", "../x.py"], "--as '../x.py'"),
        (["render", "job.py", "--db", "DB", "--set", "greeting=x", "--set", "name=y", "--as", "x.py"], "give --ingest too"),
    ],
)
def test_render_bad_input(assetdb, database, args, message):
    result = assetdb(*[str(database) if arg == "DB" else arg for arg in args])
    assert result.exit_code == 2 and message in result.stderr


def test_render_cli_writes_a_file_and_refuses_to_overwrite(assetdb, database, tmp_path):
    out = tmp_path / "job.py"
    result = assetdb("render", "job.py", "--db", database, "--set", "greeting=Hi", "--set", "name=x", "--out", out)
    assert result.exit_code == 0 and out.read_text() == "print('Hi, x!')  # x\n"
    again = assetdb("render", "job.py", "--db", database, "--set", "greeting=Hi", "--set", "name=x", "--out", out)
    assert again.exit_code == 2 and "already exists" in again.stderr
    listing = assetdb("assets", database, "--top-used")
    assert listing.exit_code == 0 and "templates/job.py.tmpl" in listing.stdout
    stored = assetdb("render", "job.py", "--db", database, "--set", "greeting=Hi", "--set", "name=x", "--ingest")
    assert stored.exit_code == 0
    assert "generated/job.py" in assetdb("assets", database, "--kind", "script").stdout


def test_regenerate_is_logged(database, tmp_path):
    regenerate(database, tmp_path / "out", limit=LIMIT)
    row = sqlite3.connect(database).execute(
        "SELECT counts FROM cross_database_sync_operations WHERE operation = 'regenerate'"
    ).fetchone()
    assert row == ('{"written": 3}',)


def test_a_binary_template_is_refused_with_one_line(assetdb, database, tmp_path):
    workspace = tmp_path / "ws"
    (workspace / "templates" / "blob.tmpl").write_bytes(b"\xff\xfe${x}\x00")
    ingest(workspace, database, limit=LIMIT)
    result = assetdb("render", "blob", "--db", database, "--set", "x=1")
    assert result.exit_code == 2 and "is not UTF-8 text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["regenerate", "LEGACY", "--out", "OUT"],
        ["verify", "LEGACY", "--workspace", "WS"],
        ["log", "LEGACY"],
        ["assets", "LEGACY"],
        ["conflicts", "LEGACY"],
        ["render", "x", "--db", "LEGACY"],
        ["sync", "WS", "--db", "LEGACY", "--pull"],
        ["sync", "WS", "--db", "LEGACY"],
        ["ingest", "WS", "--into", "LEGACY"],
    ],
)
def test_every_reader_refuses_a_legacy_database_in_one_line(assetdb, tmp_path, args):
    from pytest_assetdb.testing import make_database

    legacy = make_database(tmp_path / "legacy.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    before = legacy.read_bytes()
    (tmp_path / "ws").mkdir()
    names = {"LEGACY": legacy, "OUT": tmp_path / "out", "WS": tmp_path / "ws"}
    result = assetdb(*[names.get(arg, arg) for arg in args])
    assert result.exit_code == 2, result.stderr
    assert "not" in result.stderr and "assetdb database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert legacy.read_bytes() == before and not (tmp_path / "out").exists()


def test_only_braced_placeholders_are_filled_a_scripts_own_dollars_stay():
    script = "#!/bin/sh\necho \"$HOME $$ $1\" ${greeting} ${greeting}, cost $5 and $${name}\n"
    assert placeholders(script) == ["greeting", "name"]
    assert render_text(script, {"greeting": "hi", "name": "n"}) == \
        "#!/bin/sh\necho \"$HOME $$ $1\" hi hi, cost $5 and $n\n"
    with pytest.raises(BadInput, match="missing values for name"):
        render_text(script, {"greeting": "hi"})


def test_a_result_stored_at_a_template_s_own_path_is_refused_and_nothing_is_counted(database):
    """Stored there as a script, it replaced the template: the next render found none."""
    held = database.read_bytes()
    for where in ("templates/job.py.tmpl", "patterns/retry.pattern"):
        with pytest.raises(BadInput, match=rf"--as '{where}': the stored (template|pattern) '{where}' is there"):
            render(database, "job.py", {"greeting": "Hello", "name": "world"}, store_as=where, limit=LIMIT)
    assert database.read_bytes() == held
    assert render(database, "job.py", {"greeting": "Hi", "name": "you"}, limit=LIMIT).text.startswith("print('Hi")


def test_render_out_is_judged_before_the_use_is_counted(database, tmp_path, assetdb):
    """A link as --out was written through (a dangling one made its target); a missing folder
    failed after the use was counted."""
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    held = database.read_bytes()
    for out, said in ((tmp_path / "dangling.py", "already exists; refusing to overwrite it"),
                      (tmp_path / "no" / "such" / "x.py", "no such folder for --out")):
        refused = assetdb("render", "job.py", "--db", database, "--set", "greeting=a", "--set", "name=b", "--out", out)
        assert refused.exit_code == 2 and said in refused.stderr
    assert database.read_bytes() == held and not (tmp_path / "nowhere.py").exists()
