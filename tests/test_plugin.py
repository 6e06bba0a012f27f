"""The pytest plugin v1, exercised the way users run it: with pytester, on real files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import folder_state, make_database, write_wal_with_pending_rows
from consolidation.demo import lfs_pointer

LIMIT = 99_900_000


@pytest.fixture
def databases(pytester):
    folder = pytester.path / "databases"
    make_database(folder / "alpha.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    make_database(folder / "beta.sqlite", "CREATE TABLE t (x)", wal=True)
    (folder / "notes.txt").write_text("not collected")
    return folder


def outcomes(result):
    return {
        line.split(" ")[0]: line.split(" ")[1]
        for line in result.outlines
        if "::" in line and (" PASSED" in line or " FAILED" in line)
    }


def test_without_the_flag_nothing_is_collected(pytester, databases):
    result = pytester.runpytest("databases")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_each_database_yields_size_and_integrity_with_stable_ids(pytester, databases):
    result = pytester.runpytest("--assetdb", "databases", "-v", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert list(outcomes(result)) == [
        "databases/alpha.db::size",
        "databases/alpha.db::integrity",
        "databases/beta.sqlite::size",
        "databases/beta.sqlite::integrity",
    ]


def test_over_the_cap_fails_with_an_actionable_first_line(pytester, databases):
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", "1KB", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ size: databases/alpha.db _*",
            # the cap given to the gate, which the project's settings would not give assetdb
            "over the cap: 8.2 KB > 1.0 KB (819.2% of cap) — run: assetdb consolidate databases --limit 1000 --yes "
            "(the consolidated set is split into shards under the cap)",
        ]
    )
    assert "Traceback" not in result.stdout.str() and "raise CheckFailure" not in result.stdout.str()


def test_ini_limit_and_command_line_precedence(pytester, databases):
    pytester.makeini("[pytest]\nassetdb_size_limit = 1KB\n")
    pytester.runpytest("--assetdb", "databases").assert_outcomes(passed=2, failed=2)
    pytester.runpytest("--assetdb", "databases", "--assetdb-limit", "1MB").assert_outcomes(passed=4)


def test_pyproject_tool_assetdb_limit(pytester, databases):
    pytester.makepyprojecttoml('[tool.assetdb]\nsize_limit = "2KB"\n')
    pytester.runpytest("--assetdb", "databases").assert_outcomes(passed=2, failed=2)


def test_unparsable_limit_is_a_usage_error(pytester, databases):
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--assetdb-limit: invalid size 'huge'*"])


def test_a_zero_byte_database_is_empty_and_non_databases_fail_integrity_only(pytester, databases):
    (databases / "zero.db").touch()
    (databases / "text.db").write_text("plain text, not SQLite\n" * 10)
    lfs_pointer(databases / "big.db", 52_000_000)
    result = pytester.runpytest("--assetdb", "databases", "-v", "-p", "no:cacheprovider")
    status = outcomes(result)
    assert status["databases/zero.db::size"] == "PASSED"
    assert status["databases/zero.db::integrity"] == "PASSED"  # SQLite reads it as an empty database
    assert status["databases/text.db::integrity"] == "FAILED"
    assert status["databases/big.db::integrity"] == "FAILED"
    result.stdout.fnmatch_lines(["*unusable: databases/text.db: not a SQLite database (text, *) — *assetdb restore*"])
    result.stdout.fnmatch_lines(["*unusable: databases/big.db: Git LFS pointer to a 52.0 MB object * run `git lfs pull`*"])


def test_corrupt_database_fails_integrity_check(pytester, databases):
    broken = make_database(
        databases / "broken.db",
        "CREATE TABLE t (x)",
        "CREATE INDEX t_x ON t (x)",
        *[f"INSERT INTO t VALUES ({n})" for n in range(300)],
    )
    connection = sqlite3.connect(broken)
    connection.execute("PRAGMA writable_schema = ON")
    connection.execute("UPDATE sqlite_schema SET sql = replace(sql, '(x)', '(x DESC)') WHERE name = 't_x'")
    connection.commit()
    connection.close()
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*integrity_check failed (*problems) — restore it from a verified backup*"])
    result.assert_outcomes(passed=5, failed=1)


def test_figures_are_junit_properties(pytester, databases):
    result = pytester.runpytest("--assetdb", "databases", "--junitxml=report.xml", "-p", "no:cacheprovider")
    assert result.ret == 0
    tree = ElementTree.parse(pytester.path / "report.xml")
    case = next(c for c in tree.iter("testcase") if c.get("name") == "size" and "alpha" in c.get("classname"))
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert int(properties["bytes"]) == (databases / "alpha.db").stat().st_size
    assert properties["limit"] == "99900000"


def test_the_gate_leaves_the_folder_untouched(pytester, databases):
    write_wal_with_pending_rows(databases / "pending.db", rows=3)
    before = folder_state(databases)
    pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider").assert_outcomes(passed=6)
    assert folder_state(databases) == before


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"], []], ids=["xdist-2", "no-xdist", "default"])
def test_same_outcomes_with_and_without_xdist(pytester, databases, mode):
    (databases / "zero.db").touch()
    result = pytester.runpytest_subprocess("--assetdb", "databases", "--assetdb-limit", "5KB", "-p", "no:cacheprovider", *mode)
    result.assert_outcomes(passed=4, failed=2)  # a zero-byte database is an empty one: only the two over the cap fail


def test_realworld_gate_passes_and_touches_nothing(realworld, tmp_path):
    before = folder_state(realworld)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--assetdb", str(realworld), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    assert "8 passed" in result.stdout
    assert folder_state(realworld) == before


@pytest.fixture
def consolidated(pytester):
    """databases/ with two legacy sources and the consolidated set made from them."""
    from consolidation.merge import MigrationSettings, migrate

    folder = pytester.path / "databases"
    a = make_database(folder / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    b = make_database(folder / "b.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (2, 'Y'), (3, 'z')")
    target = folder / "enterprise_assets.db"
    migrate(target, [a, b], MigrationSettings(99_900_000))
    return target


def test_a_workspace_never_synced_fails_its_reproducible_items_though_the_set_holds_no_assets(pytester, consolidated):
    """The gate compares the workspace in each kind its files are, stored or not: a set of
    migrated rows alone (a first sync killed, or never run) is not as the workspace is."""
    workspace = pytester.path / "ws"
    (workspace / "tools").mkdir(parents=True)
    (workspace / "tools" / "tool.py").write_text("print(1)\n")
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-workspace", "ws", "-p", "no:cacheprovider", "-rN")
    result.stdout.fnmatch_lines(["1 script files in *ws are not as stored — run: assetdb sync *ws --db "
                                 "databases/enterprise_assets.db"])
    assert result.ret == 1
    from consolidation.assets import ingest

    ingest(workspace, consolidated, limit=LIMIT)
    synced = pytester.runpytest("--assetdb", "databases", "--assetdb-workspace", "ws", "-v", "-p", "no:cacheprovider")
    assert synced.ret == 0 and "databases/enterprise_assets.db::reproducible[script] PASSED" in synced.stdout.str()


def test_consolidated_database_yields_lossless_and_rebuildable_items(pytester, consolidated):
    before = folder_state(consolidated.parent)
    result = pytester.runpytest("--assetdb", "databases", "-v", "-p", "no:cacheprovider")
    assert result.ret == 0
    ids = [i for i in outcomes(result) if "enterprise_assets" in i]
    assert ids == [
        "databases/enterprise_assets.db::size",
        "databases/enterprise_assets.db::integrity",
        "databases/enterprise_assets.db::schema",
        "databases/enterprise_assets.db::lossless[a.db:t]",
        "databases/enterprise_assets.db::lossless[b.db:t]",
        "databases/enterprise_assets.db::rebuildable[a.db]",
        "databases/enterprise_assets.db::rebuildable[b.db]",
    ]
    assert folder_state(consolidated.parent) == before


def test_lost_row_fails_lossless_and_rebuildable(pytester, consolidated):
    connection = sqlite3.connect(consolidated)
    connection.execute("DELETE FROM t WHERE id = 3")
    connection.commit()
    connection.close()
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9, failed=2)
    result.stdout.fnmatch_lines(
        ["rows lost or changed: b.db:t: rowid 3 missing from the consolidated set — run: assetdb verify *"]
    )
    # b.db's finalization check is gated by its failed migration check; a.db's still runs
    result.stdout.fnmatch_lines(
        [
            "*_ rebuildable[[]b.db]: databases/enterprise_assets.db _*",
            "not checked: lossless[[]b.db:t] (migration) failed first — rows lost or changed: *",
        ]
    )


def test_archived_sources_are_checked_against_the_ledger(pytester, consolidated):
    (consolidated.parent / "a.db").rename(pytester.path / "a.db")
    (consolidated.parent / "b.db").rename(pytester.path / "b.db")
    (pytester.path / "a.db").unlink()
    (pytester.path / "b.db").unlink()
    result = pytester.runpytest("--assetdb", "databases", "--junitxml=report.xml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    tree = ElementTree.parse(pytester.path / "report.xml")
    case = next(c for c in tree.iter("testcase") if c.get("name") == "lossless[b.db:t]")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["compared"] == "ledger" and properties["conflicts_kept"] == "1"


def test_gate_reads_across_shards(pytester):
    from consolidation.merge import MigrationSettings, migrate

    legacy = pytester.path / "legacy"
    sources = [
        make_database(
            legacy / f"s{i}.db",
            "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)",
            f"WITH RECURSIVE n(i) AS (SELECT {i * 100} UNION ALL SELECT i + 1 FROM n WHERE i < {i * 100 + 11}) "
            "INSERT INTO blobs SELECT i, zeroblob(20000) FROM n",
        )
        for i in range(3)
    ]
    folder = pytester.path / "databases"
    folder.mkdir()
    migrate(folder / "enterprise_assets.db", sources, MigrationSettings(400_000))
    assert len(list(folder.glob("enterprise_assets.*.db"))) >= 1
    for source in sources:
        source.unlink()  # archived: the ledger is all there is
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", "400000", "-v", "-p", "no:cacheprovider")
    assert result.ret == 0
    status = outcomes(result)
    assert status["databases/enterprise_assets.002.db::size"] == "PASSED"
    assert status["databases/enterprise_assets.db::rebuildable[s2.db]"] == "PASSED"


def _three_kinds_stored(pytester) -> Path:
    """A workspace of a script, a document and a template, stored in databases/'s new set."""
    from consolidation.assets import ingest
    from consolidation.store import initialize

    workspace = pytester.path / "ws"
    (workspace / "templates").mkdir(parents=True)
    (workspace / "README.md").write_text("# hi\n")
    (workspace / "run.py").write_text("print(1)\n")
    (workspace / "templates" / "a.tmpl").write_text("${x}\n")
    folder = pytester.path / "databases"
    folder.mkdir()
    initialize(folder / "enterprise_assets.db", 99_900_000)
    ingest(workspace, folder / "enterprise_assets.db", limit=LIMIT)
    return workspace


def test_the_gate_walks_the_workspace_once_for_every_kind_it_compares(pytester, monkeypatch):
    """A real repository has thousands of files: the reproducible items of every kind share
    the one walk of the workspace the gate made when it collected them."""
    from consolidation.proof import reproducible

    workspace = _three_kinds_stored(pytester)
    (workspace / "new.md").write_text("# not stored yet\n")
    walks = []
    real_walk = reproducible.list_workspace
    monkeypatch.setattr(reproducible, "list_workspace", lambda *args, **kwargs: walks.append(args) or real_walk(*args, **kwargs))
    result = pytester.runpytest_inprocess("--assetdb", "databases", "--assetdb-workspace", "ws", "-v",
                                          "-p", "no:cacheprovider", "-p", "no:xdist")
    assert "databases/enterprise_assets.db::reproducible[documentation] FAILED" in result.stdout.str()
    result.stdout.fnmatch_lines(["*new.md: in the workspace but not stored*"])
    assert len([o for o in outcomes(result) if "reproducible" in o]) == 3 and len(walks) == 1


def test_each_kind_of_file_is_checked_on_its_own(pytester):
    """A script not synced says nothing of the documents: each kind's reproducible item is
    checked and reported on its own, none of them failed "by gate" for another kind."""
    workspace = _three_kinds_stored(pytester)
    (workspace / "run.py").write_text("print(2)\n")
    (workspace / "README.md").write_text("# edited\n")
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-workspace", "ws", "-v", "-p", "no:cacheprovider")
    found = outcomes(result)
    assert [found[f"databases/enterprise_assets.db::reproducible[{kind}]"] for kind in ("script", "documentation",
                                                                                      "template")] == [
        "FAILED", "FAILED", "PASSED"]
    assert "not checked" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*README.md: workspace bytes differ from the stored version 1*"])


def test_the_items_of_a_consolidated_database_are_sorted_by_source_whatever_order_they_came_in(pytester):
    from consolidation.merge import MigrationSettings, migrate

    folder = pytester.path / "databases"
    sources = {name: make_database(folder / f"{name}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
                                   f"INSERT INTO t VALUES (1, '{name}')") for name in ("zeta", "alpha", "mid")}
    target = folder / "enterprise_assets.db"
    migrate(target, [sources["zeta"]], MigrationSettings(99_900_000))
    migrate(target, [sources["mid"], sources["alpha"]], MigrationSettings(99_900_000))
    result = pytester.runpytest("--assetdb", "databases", "-v", "-p", "no:cacheprovider", "-p", "no:xdist")
    ids = [i.split("::")[1] for i in outcomes(result) if "enterprise_assets" in i]
    assert [i for i in ids if i.startswith(("lossless", "rebuildable"))] == [
        "lossless[alpha.db:t]", "lossless[mid.db:t]", "lossless[zeta.db:t]",
        "rebuildable[alpha.db]", "rebuildable[mid.db]", "rebuildable[zeta.db]"]


def test_reproducible_items_per_asset_kind_with_a_workspace(pytester):
    workspace = _three_kinds_stored(pytester)
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-workspace", "ws", "-v", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert [i for i in outcomes(result) if "reproducible" in i] == [
        "databases/enterprise_assets.db::reproducible[script]",
        "databases/enterprise_assets.db::reproducible[documentation]",
        "databases/enterprise_assets.db::reproducible[template]",
    ]
    (workspace / "run.py").write_text("print(2)\n")
    pytester.makeini("[pytest]\nassetdb_workspace = ws\n")
    failed = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    failed.assert_outcomes(passed=5, failed=1)  # the other kinds are checked all the same
    failed.stdout.fnmatch_lines([  # the set is sound: it is the workspace that moved on, and a sync records it
        "1 script files in *ws are not as stored — run: assetdb sync *ws --db databases/enterprise_assets.db",
        "run.py: workspace bytes differ from the stored version 1 (run: assetdb sync *ws --db *enterprise_assets.db)"])
    (workspace / "run.py").write_text("print(1)\n")
    (workspace / "run.py").chmod(0o755)  # a change git records (100755), though the bytes are the same
    made_executable = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    made_executable.assert_outcomes(passed=5, failed=1)
    made_executable.stdout.fnmatch_lines(["run.py: executable in the workspace, unlike the stored version 1 (0o6*)*"])


def test_the_header_says_what_the_gate_checks_with(pytester, databases):
    result = pytester.runpytest("--assetdb", "databases", "--assetdb-limit", "2MB", "--assetdb-exclude", "beta*",
                                "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["assetdb: cap 2.0 MB, warn from 1.8 MB; up to phase finalization; workspace -; "
                                 "list the one each set keeps, else the one beside each database; excluding beta*"])
    assert "assetdb:" not in pytester.runpytest("-p", "no:cacheprovider").stdout.str()


#: The near-cap warning shown as a warning whatever filters the outer run has (this suite
#: runs clean under ``-W error``, which the in-process runs below would otherwise inherit).
AS_WARNING = ("-W", "default::pytest_assetdb.AssetdbNearCapWarning")


def test_a_database_near_the_cap_passes_with_a_warning(pytester, databases):
    size = (databases / "alpha.db").stat().st_size
    near = pytester.runpytest("--assetdb", "databases/alpha.db", "--assetdb-limit", str(int(size / 0.95)),
                              "-p", "no:cacheprovider", *AS_WARNING)
    near.assert_outcomes(passed=2, warnings=1)
    near.stdout.fnmatch_lines(["*AssetdbNearCapWarning: databases/alpha.db is near the cap: 8.2 KB of 8.6 KB (95.0% of cap)*",
                               "databases/alpha.db (near the cap)*95.0%*2/2"])
    for quiet in (["--assetdb-warn", "0"], ["--assetdb-warn", "99%"], ["--assetdb-warn", "1MB"]):
        pytester.runpytest("--assetdb", "databases/alpha.db", "--assetdb-limit", str(int(size / 0.95)), *quiet,
                           "-p", "no:cacheprovider").assert_outcomes(passed=2)
    pytester.makeini("[pytest]\nassetdb_warn = 50%\n")
    pytester.runpytest("--assetdb", "databases/alpha.db", "--assetdb-limit", str(size * 3 // 2),
                       "-p", "no:cacheprovider", *AS_WARNING).assert_outcomes(passed=2, warnings=1)
    strict = pytester.runpytest("--assetdb", "databases/alpha.db", "--assetdb-limit", str(size * 3 // 2),
                                "-p", "no:cacheprovider", "-W", "error::pytest_assetdb.AssetdbNearCapWarning")
    strict.assert_outcomes(passed=1, failed=1)  # a team that wants near the cap to fail says so
    strict.stdout.fnmatch_lines(["AssetdbNearCapWarning: databases/alpha.db is near the cap*",
                                 "FAILED databases/alpha.db::size*"])
    bad = pytester.runpytest("--assetdb", "databases", "--assetdb-warn", "lots", "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--assetdb-warn 'lots': use a size (95MB) or a share of the cap (90%)*"])


def test_the_databases_fixture_agrees_with_collection(pytester, databases):
    make_database(databases / ".hidden" / "secret.db", "CREATE TABLE t (x)")
    make_database(databases / "skipme" / "ignored.db", "CREATE TABLE t (x)")
    make_database(databases / "kept" / "kept.db", "CREATE TABLE t (x)")
    pytester.makepyfile(test_listing="""
        def test_listing(assetdb_databases, request):
            collected = sorted({item.path for item in request.session.items if "::" in item.nodeid
                                and item.path.suffix in (".db", ".sqlite")})
            assert assetdb_databases == collected, (assetdb_databases, collected)
            assert sorted(path.name for path in assetdb_databases) == ["alpha.db", "beta.sqlite", "kept.db"]
    """)
    result = pytester.runpytest("--assetdb", "databases", "test_listing.py", "--ignore=databases/skipme",
                                "--assetdb-exclude", "zero*", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_ini_paths_are_relative_to_the_ini_file(pytester, databases):
    (pytester.path / "ws").mkdir()
    (pytester.path / "ws" / "README.md").write_text("hi\n")
    pytester.makeini("[pytest]\nassetdb_workspace = ws\n")
    result = pytester.runpytest("--assetdb", "databases", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"assetdb: *workspace {pytester.path / 'ws'}*"])
