"""The gate as a pytest plugin: phases, gating, markers, hooks, fixtures, xdist, output."""

from __future__ import annotations

import re
import sqlite3
import textwrap

import pytest

from conftest import readme_example
from pytest_assetdb.testing import make_database, run_gate

LIMIT = 99_900_000


@pytest.fixture
def databases(pytester):
    folder = pytester.path / "databases"
    make_database(folder / "small.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    make_database(folder / "big.db", "CREATE TABLE t (x)", "INSERT INTO t VALUES (zeroblob(20000))")
    return folder


def outcomes(result) -> dict[str, str]:
    """Node id -> outcome from verbose output, with or without xdist's ``[gw0] … PASSED id``."""
    found = {}
    for line in result.outlines:
        plain = re.match(r"^(\S+::\S+) (PASSED|FAILED|SKIPPED|ERROR)", line)
        spread = re.search(r"(PASSED|FAILED|SKIPPED|ERROR) (\S+::\S+)", line)
        if plain:
            found[plain.group(1)] = plain.group(2)
        elif spread:
            found[spread.group(2)] = spread.group(1)
    return found


def test_markers_select_by_check_and_by_phase(pytester, databases):
    by_check = run_gate(pytester, "databases", args=("-v", "-m", "assetdb_check(name='size')"))
    assert sorted(outcomes(by_check)) == ["databases/big.db::size", "databases/small.db::size"]
    by_phase = run_gate(pytester, "databases", args=("-v", "-m", "assetdb_phase(name='inventory')"))
    assert len(outcomes(by_phase)) == 4


def test_phase_option_and_ini_stop_at_a_phase(pytester, databases, tmp_path):
    from consolidation.merge import MigrationSettings, migrate

    migrate(databases / "enterprise_assets.db", [databases / "small.db"], MigrationSettings(99_900_000))
    everything = run_gate(pytester, "databases", args=("-v",))
    assert "databases/enterprise_assets.db::rebuildable[small.db]" in outcomes(everything)
    inventory = run_gate(pytester, "databases", args=("-v", "--assetdb-phase", "inventory"))
    assert {name.split("::")[1] for name in outcomes(inventory)} == {"size", "integrity"}
    pytester.makeini("[pytest]\nassetdb_phase = migration\n")
    migration = run_gate(pytester, "databases", args=("-v",))
    names = {name.split("::")[1] for name in outcomes(migration)}
    assert "lossless[small.db:t]" in names and "rebuildable[small.db]" not in names
    bad = run_gate(pytester, "databases", args=("--assetdb-phase", "later"))
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_earlier_failure_gates_later_items_the_same_with_and_without_xdist(pytester, databases):
    from consolidation.merge import MigrationSettings, migrate

    target = databases / "enterprise_assets.db"
    migrate(target, [databases / "small.db"], MigrationSettings(99_900_000))
    with sqlite3.connect(target) as connection:  # a row changed in the set: its rebuild waits on its proof
        connection.execute("UPDATE t SET x = 2")
    connection.close()
    args = ("-v", "--assetdb-limit", "100KB")  # the consolidated file is over the cap too: that gates nothing
    results = [
        outcomes(pytester.runpytest_subprocess("--assetdb", "databases", "-p", "no:cacheprovider", *args, *mode))
        for mode in ([], ["-n", "2"], ["-p", "no:xdist"])
    ]
    assert results[0] == results[1] == results[2]
    assert results[0]["databases/enterprise_assets.db::size"] == "FAILED"
    assert results[0]["databases/enterprise_assets.db::schema"] == "PASSED"
    assert results[0]["databases/enterprise_assets.db::lossless[small.db:t]"] == "FAILED"
    assert results[0]["databases/enterprise_assets.db::rebuildable[small.db]"] == "FAILED"
    assert results[0]["databases/small.db::size"] == "PASSED"
    gated = run_gate(pytester, "databases", args=args)
    gated.stdout.fnmatch_lines(["not checked: lossless[[]small.db:t[]] (migration) failed first — *"])
    assert "not checked: size" not in gated.stdout.str()


def test_a_plugin_adds_checks_limits_and_receives_the_report(pytester, databases):
    pytester.makeconftest(
        textwrap.dedent(
            """
            import json
            from pytest_assetdb import Check, CheckResult

            def has_rows(context):
                import sqlite3
                count = sqlite3.connect(f"file:{context.path}?mode=ro", uri=True).execute("SELECT count(*) FROM t").fetchone()[0]
                return CheckResult(count > 0, f"{count} rows" if count else "no rows in t — run: load the data")

            def pytest_assetdb_collect_checks(path, config):
                return [Check("has_rows", "migration", "custom", has_rows)]

            def pytest_assetdb_size_limit(path, config):
                return 10_000 if path.name == "small.db" else None

            def pytest_assetdb_report(config, databases):
                with open("report.json", "w") as handle:
                    json.dump([[d.database, d.passed, d.failed, d.figures.get("limit")] for d in databases], handle)
            """
        )
    )
    result = run_gate(pytester, "databases", args=("-v", "-m", "assetdb_check(name='custom') or assetdb_check(name='size')"))
    status = outcomes(result)
    assert status["databases/small.db::has_rows"] == "PASSED"
    assert status["databases/big.db::has_rows"] == "PASSED"
    import json

    report = json.loads((pytester.path / "report.json").read_text())
    assert report == [["databases/big.db", 2, 0, 99900000], ["databases/small.db", 2, 0, 10000]]


def test_the_consolidated_fixture_is_a_plain_connection_without_sqlite_utils(pytester, databases):
    from consolidation.merge import MigrationSettings, migrate

    migrate(databases / "enterprise_assets.db", [databases / "small.db", databases / "big.db"], MigrationSettings(99_900_000))
    pytester.makeconftest("import sys\nsys.modules['sqlite_utils'] = None  # as if the extra were not installed\n")
    pytester.makepyfile(
        test_validation=textwrap.dedent(
            """
            import sqlite3

            def test_consolidated_rows(assetdb_consolidated):
                assert isinstance(assetdb_consolidated, sqlite3.Connection)
                assert assetdb_consolidated.execute("SELECT count(*) FROM t").fetchone() == (2,)
            """
        )
    )
    result = run_gate(pytester, "databases", "test_validation.py", args=("-v",))
    assert result.ret == 0, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["*test_validation.py::test_consolidated_rows PASSED*"])


def test_fixtures_and_assertion_helpers_in_a_validation_test(pytester, databases):
    from consolidation.merge import MigrationSettings, migrate

    migrate(databases / "enterprise_assets.db", [databases / "small.db", databases / "big.db"], MigrationSettings(99_900_000))
    pytester.makepyfile(
        test_validation=textwrap.dedent(
            """
            from pytest_assetdb import assert_lossless, assert_under_limit

            def test_every_database_is_under_the_cap(assetdb_databases, assetdb_limit):
                assert len(assetdb_databases) == 3
                for database in assetdb_databases:
                    assert_under_limit(database, assetdb_limit)

            def test_consolidated_rows(assetdb_consolidated):
                assert assetdb_consolidated["t"].count == 2  # no primary key: both sources' rows appended
                assert assetdb_consolidated["migration_sources"].count == 2

            def test_lossless(assetdb_databases):
                consolidated = [d for d in assetdb_databases if d.name == "enterprise_assets.db"][0]
                assert_lossless(consolidated, [d for d in assetdb_databases if d != consolidated])

            def test_workspace(assetdb_workspace):
                raise AssertionError("skipped without a workspace")
            """
        )
    )
    result = pytester.runpytest("test_validation.py", "databases", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*no assetdb workspace configured*"])


def test_assertion_helpers_say_what_is_wrong(tmp_path):
    from pytest_assetdb import assert_under_limit

    database = make_database(tmp_path / "x.db", "CREATE TABLE t (x)")
    with pytest.raises(AssertionError, match=r"over the cap: 8.2 KB > 1.0 KB .* — run: assetdb migrate"):
        assert_under_limit(database, 1000)


def test_xdist_keeps_a_sources_checks_on_one_worker_and_starts_the_costliest(pytester, databases):
    from consolidation.merge import MigrationSettings, migrate

    make_database(databases / "large.db", "CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)",
                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                  "INSERT INTO rows SELECT i, randomblob(1000) FROM n",
                  "CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)", "INSERT INTO notes VALUES (1, 'a')")
    migrate(databases / "enterprise_assets.db", [databases / name for name in ("small.db", "big.db", "large.db")],
            MigrationSettings(LIMIT))
    pytester.makeconftest(textwrap.dedent(
        """
        import json, os, time

        def pytest_runtest_call(item):
            with open(os.path.join(str(item.config.rootpath), "ran.jsonl"), "a") as log:
                log.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), time.monotonic(), item.nodeid]) + "\\n")
        """
    ))
    result = pytester.runpytest_subprocess("--assetdb", "databases", "-p", "no:cacheprovider", "-n", "2")
    assert result.ret == 0, result.stdout.str()[-2000:]
    import json

    ran = [json.loads(line) for line in (pytester.path / "ran.jsonl").read_text().splitlines()]
    assert {worker for worker, _, _ in ran} == {"gw0", "gw1"}
    workers_of: dict[str, set[str]] = {}
    for worker, _, nodeid in ran:
        check = nodeid.split("::")[1]
        if check.startswith(("lossless[", "rebuildable[")):
            source = check.split("[", 1)[1].split(":")[0].rstrip("]")
            workers_of.setdefault(source, set()).add(worker)
    assert sorted(workers_of) == ["big.db", "large.db", "small.db"]
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of  # never proved twice
    first_of = {worker: min((t, nodeid) for w, t, nodeid in ran if w == worker)[1] for worker in ("gw0", "gw1")}
    assert "databases/enterprise_assets.db::lossless[large.db:notes]" in first_of.values(), first_of


def test_under_xdist_plugins_are_asked_about_databases_only_and_outside_the_rootdir_too(pytester, databases):
    """The controller orders the work with the same checks the workers collect: it asks
    plugins about database files only (never a test module), and finds databases that
    lie outside the rootdir, so their sources' checks stay together there too."""
    import json
    import os
    import subprocess
    import sys

    from consolidation.merge import MigrationSettings, migrate

    extra = [make_database(databases / f"more{index}.db", "CREATE TABLE t (x)", f"INSERT INTO t VALUES ({index})",
                           "CREATE TABLE u (y)", "INSERT INTO u VALUES (1)") for index in range(4)]
    migrate(databases / "enterprise_assets.db", [databases / "small.db", databases / "big.db", *extra],
            MigrationSettings(LIMIT))
    tests = pytester.path / "tests"
    tests.mkdir()
    (tests / "recording.py").write_text(textwrap.dedent(  # a plugin: it sees every item, wherever it lies
        """
        import json, os
        import pytest

        def pytest_assetdb_collect_checks(path, config):
            if path.suffix != ".db":
                pytest.skip(f"asked about {path}")  # a plugin may take the hookspec at its word
            return []

        def pytest_runtest_call(item):
            with open(os.path.join(os.path.dirname(__file__), "ran.jsonl"), "a") as log:
                log.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), item.nodeid]) + "\\n")
        """
    ))
    (tests / "test_user.py").write_text("def test_user():\n    assert True\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "recording", "--assetdb", "../databases", ".", "-p", "no:cacheprovider",
         "-n", "2", "--rootdir", ".", "-q"],
        cwd=tests, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tests)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "INTERNALERROR" not in run.stdout + run.stderr
    ran = [json.loads(line) for line in (tests / "ran.jsonl").read_text().splitlines()]
    workers_of: dict[str, set[str]] = {}
    for worker, nodeid in ran:
        check = nodeid.split("::", 1)[-1]
        if check.startswith(("lossless[", "rebuildable[")):
            workers_of.setdefault(check.split("[", 1)[1].split(":")[0].rstrip("]"), set()).add(worker)
    assert sorted(workers_of) == ["big.db", "more0.db", "more1.db", "more2.db", "more3.db", "small.db"], ran
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of


def test_summary_table_once_on_the_controller(pytester, databases):
    result = pytester.runpytest_subprocess("--assetdb", "databases", "-p", "no:cacheprovider", "-n", "2")
    text = result.stdout.str()
    assert text.count("assetdb gate") == 1
    result.stdout.fnmatch_lines(["database *size *% of cap *checks passed", "databases/big.db *KB *2/2"])


def test_the_cache_never_lands_in_the_checked_folder(pytester, databases):
    before = sorted(p.name for p in databases.iterdir())
    result = pytester.runpytest_subprocess("--assetdb", str(databases), "--rootdir", str(databases))
    assert result.ret == 0
    assert sorted(p.name for p in databases.iterdir()) == before


def test_listed_items_follow_the_database_list(pytester, databases):
    (databases / "CONSOLIDATED_DATABASE_LIST.md").write_text("| file |\n|---|\n| `small.db` |\n")
    result = run_gate(pytester, "databases", args=("-v",))
    status = outcomes(result)
    assert status["databases/small.db::listed"] == "PASSED"
    assert status["databases/big.db::listed"] == "FAILED"
    result.stdout.fnmatch_lines(["not listed: databases/big.db is missing from *CONSOLIDATED_DATABASE_LIST.md — run: assetdb list *"])


def test_non_database_files_are_ignored_and_a_broken_database_is_an_item(pytester, databases):
    (databases / "notes.txt").write_text("not a database")
    (databases / "broken.db").write_text("garbage" * 100)
    result = run_gate(pytester, "databases", args=("-v",))
    status = outcomes(result)
    assert status["databases/broken.db::integrity"] == "FAILED"
    assert not any("notes.txt" in name for name in status)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_consolidated_fixture_reads_across_shards(pytester):
    from consolidation.merge import MigrationSettings, migrate

    sources = [
        make_database(
            pytester.path / "legacy" / f"s{i}.db",
            "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)",
            f"WITH RECURSIVE n(i) AS (SELECT {i * 100} UNION ALL SELECT i + 1 FROM n WHERE i < {i * 100 + 11}) "
            "INSERT INTO blobs SELECT i, zeroblob(20000) FROM n",
        )
        for i in range(3)
    ]
    (pytester.path / "databases").mkdir()
    migrate(pytester.path / "databases" / "enterprise_assets.db", sources, MigrationSettings(400_000))
    assert len(list((pytester.path / "databases").glob("*.db"))) > 1
    pytester.makepyfile(
        test_across_shards="def test_count(assetdb_consolidated):\n    assert assetdb_consolidated['blobs'].count == 36\n"
    )
    pytester.runpytest("test_across_shards.py", "databases", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_readme_examples_run_as_written(pytester):
    from consolidation.demo import build_legacy_set
    from consolidation.merge import MigrationSettings, migrate

    folder = pytester.path / "databases"
    legacy = build_legacy_set(folder)
    migrate(folder / "enterprise_assets.db", legacy, MigrationSettings(99_900_000))
    pytester.makeconftest(readme_example("conftest.py"))
    pytester.makepyfile(test_databases=readme_example("test_databases.py"))
    result = pytester.runpytest("--assetdb", "databases", "test_databases.py", "-p", "no:cacheprovider", "-s", "-v")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*enterprise_assets.db::templates_have_content PASSED*", "databases/enterprise_assets.db: */* checks passed"])
    progress = pytester.runpytest("--assetdb", "databases", "test_databases.py", "-p", "no:cacheprovider", "-n", "2")
    assert progress.ret == 0
    progress.stdout.fnmatch_lines(["*[[]100%[]]", "databases/*: */* checks passed"])  # its own line, not the progress line's


def test_tool_assetdb_settings_and_precedence(pytester, databases):
    pytester.makepyprojecttoml('[tool.assetdb]\nphase = "inventory"\nsize_limit = "10KB"\n')
    result = run_gate(pytester, "databases", args=("-v",))
    assert set(outcomes(result).values()) == {"PASSED", "FAILED"}
    assert {name.split("::")[1] for name in outcomes(result)} == {"size", "integrity"}
    assert outcomes(result)["databases/big.db::size"] == "FAILED"
    pytester.makeini("[pytest]\nassetdb_size_limit = 1MB\n")  # the ini file wins over [tool.assetdb]
    assert outcomes(run_gate(pytester, "databases", args=("-v",)))["databases/big.db::size"] == "PASSED"
    overridden = run_gate(pytester, "databases", args=("-v", "--assetdb-limit", "1KB"))  # the command line wins
    assert outcomes(overridden)["databases/small.db::size"] == "FAILED"


def test_realworld_with_xdist_and_junit_leaves_the_folder_untouched(realworld, tmp_path):
    import subprocess
    import sys

    from conftest import folder_state

    before = folder_state(realworld)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--assetdb", str(realworld), "-n", "2", f"--junitxml={tmp_path / 'x.xml'}",
         "-q", "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "x.xml").read_text().count("<testcase") == 8
    assert folder_state(realworld) == before


def test_lossless_and_reproducible_helpers_fail_with_what_to_run(tmp_path):
    import sqlite3

    from consolidation.assets import ingest
    from consolidation.merge import MigrationSettings, migrate
    from pytest_assetdb import assert_lossless, assert_reproducible

    source = make_database(tmp_path / "src" / "a.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, 'x')")
    target = tmp_path / "ws" / "enterprise_assets.db"
    target.parent.mkdir()
    migrate(target, [source], MigrationSettings(99_900_000))
    assert_lossless(target, [source])
    connection = sqlite3.connect(target)
    connection.execute("UPDATE t SET v = 'changed'")
    connection.commit()
    connection.close()
    with pytest.raises(AssertionError, match=r"1 lossless problems in .* — run: assetdb verify .*\n  a.db:t: rowid 1 differs"):
        assert_lossless(target, [source])

    workspace = tmp_path / "files"
    workspace.mkdir()
    (workspace / "run.py").write_text("print(1)\n")
    ingest(workspace, target, limit=LIMIT)
    assert_reproducible(target, workspace)
    (workspace / "run.py").write_text("print(2)\n")
    with pytest.raises(AssertionError, match=r"1 of 1 assets do not reproduce — run: assetdb verify .* --workspace"):
        assert_reproducible(target, workspace)
