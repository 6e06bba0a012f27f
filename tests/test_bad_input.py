"""Bad input found by sweeping every command: each is one line, its exit code, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import folder_state, make_database
from consolidation.merge import MigrationSettings, migrate
from consolidation.sqlite import backup_database

LIMIT = 99_900_000


@pytest.fixture
def world(tmp_path):
    """A consolidated set with a shard, a legacy source, its backup, and a text file."""
    folder = tmp_path / "w"
    sources = [make_database(folder / f"s{i}.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)",
                             f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) "
                             f"INSERT INTO t SELECT i + {i * 1000}, randomblob(1000) FROM n") for i in range(3)]
    target = folder / "set.db"
    migrate(target, sources, MigrationSettings(400_000))
    (folder / "notes.txt").write_text("notes\n")
    (folder / "a folder").mkdir()
    backup = backup_database(sources[0], tmp_path / "backups").backup
    return folder, target, sources, Path(backup)


CASES = [
    (["restore", "{backup}", "--to", "{folder}/a folder"], 2, "is a folder; --to names the database file to write"),
    (["archive", "{source}", "--db", "{target}", "--to", "{folder}/notes.txt"], 2, "is not a folder; --to names"),
    (["demo", "{folder}/notes.txt"], 2, "is not a folder; the demo runs in a fresh folder"),
    (["log", "{target}", "--since", "99999999d"], 2, "further back than any date can be"),
    (["regenerate", "{target}", "--out", "{folder}/out", "--at", "99999999999999999999"], 2, "no version can be that"),
    (["conflicts", "{target}", "--table", "nosuch"], 2, "--table 'nosuch': no table of the consolidated set holds"),
    (["size-check", "{folder}", "--database-folder", "{folder}/missing"], 2, "does not exist"),
    (["backup", "{source}", "--to", "{folder}/../b2", "--workspace", "{folder}/missing"], 2, "does not exist"),
    (["rebuild-source", "{shard}", "s0.db", "--out", "{folder}/r.db"], 2, "is a shard of a consolidated set"),
    (["rebuild-source", "{source}", "s0.db", "--out", "{folder}/r.db"], 2, "not an assetdb database, so not a"),
    (["init", "{folder}/line\nbreak.db"], 2, "line\\nbreak.db"),
    (["migrate", "{source}", "--into", "{target}", "--prefer", ""], 2, "invalid conflict policy ''"),
]


@pytest.mark.parametrize(("args", "code", "said"), CASES, ids=[" ".join(case[0][:2]) + f" {n}" for n, case in
                                                                enumerate(CASES)])
def test_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(assetdb, world, args, code, said):
    folder, target, sources, backup = world
    if "line\nbreak.db" in " ".join(args):
        (folder / "line\nbreak.db").write_text("not a database\n")
    names = {"folder": folder, "target": target, "source": sources[0], "backup": backup,
             "shard": target.with_name("set.002.db")}
    before = folder_state(folder.parent)
    result = assetdb(*[arg.format(**names) for arg in args])
    assert result.exit_code == code, result.stderr
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert folder_state(folder.parent) == before


def test_a_backup_manifest_whose_fingerprint_is_not_text_is_refused(assetdb, world):
    folder, target, sources, backup = world
    manifest = backup.with_name(backup.name + ".json")
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "fingerprint": None}))
    refused = assetdb("restore", backup, "--to", folder / "restored.db")
    assert refused.exit_code == 2 and "not a backup manifest (its fingerprint is not text)" in refused.stderr
    assert not (folder / "restored.db").exists()
