"""Demo databases of what the legacy project knew: documentation, learned patterns, templates.
"""

from __future__ import annotations

import sqlite3
import string
from datetime import datetime, timedelta

from .operational import development_metadata
from .rows import (
    ENTERPRISE_METADATA_KEY_VALUE,
    LEGACY_SCRIPTS,
    PATTERN_ENTITIES,
    Row,
    create,
    insert_rows,
    random_moment,
    seeded_random,
)

DOC_SENTENCES = (
    "Every database in the repository must stay under the 99.9 MB cap enforced by Git hosting.",
    "Run the size checker before committing any change under databases/.",
    "The consolidated database is the single source from which scripts are regenerated.",
    "Backups are taken with the SQLite online backup API and verified with integrity_check.",
    "Templates use placeholders that are filled in from the placeholder defaults table.",
    "Sync operations are logged with their counts, bytes and the size after the step.",
    "Legacy scripts read enterprise_metadata to decide which integration version applies.",
    "Keep documentation in Markdown so that it can be ingested and regenerated unchanged.",
    "A failed check prints what is wrong and which command fixes it.",
    "Archived databases can be rebuilt from the consolidated set with the same rowids.",
    "Open databases read-only when inspecting them, or WAL files appear beside them.",
    "The migration resumes after an interruption without duplicating rows.",
    "Use the inventory command to see every database, its size and its row counts.",
    "Duplicate documentation entries are removed after their content has been recorded.",
)


# path -> title; a None title is a legacy entry that never had one.
DOC_TOPICS: dict[str, str | None] = {
    "README.md": "Legacy workspace",
    "docs/setup.md": "Setup",
    "docs/guide.md": "User guide",
    "docs/api.md": "API reference",
    "notes.md": "Working notes",
    "docs/architecture.md": "Architecture",
    "docs/database_list.md": "Database list",
    "docs/size_compliance.md": "Size compliance",
    "docs/backups.md": "Backups and restore",
    "docs/sync.md": "Workspace sync",
    "docs/templates.md": "Templates",
    "docs/patterns.md": "Learned patterns",
    "docs/faq.md": None,
    "docs/changelog.md": "Changelog",
    "docs/troubleshooting.md": "Troubleshooting",
    "docs/ci.md": "Continuous integration",
    "docs/glossary.md": None,
    "CONTRIBUTING.md": "Contributing",
    **{f"docs/scripts/{script.removesuffix('.py')}.md": script for script in LEGACY_SCRIPTS},
}


# Entries that repeat another path's content: (path, original path, how the content relates).
IDENTICAL = "identical"


OLDER = "older"


EDITED = "edited"


DOC_COPIES = (
    ("docs/README.md", "README.md", IDENTICAL),
    ("guides/setup.md", "docs/setup.md", IDENTICAL),
    ("design/architecture.md", "docs/architecture.md", IDENTICAL),
    ("docs/guide_backup.md", "docs/guide.md", IDENTICAL),
    ("backup/setup.md", "docs/setup.md", IDENTICAL),
    ("README.md.bak", "README.md", OLDER),
    ("docs/api_20250716_151622.md", "docs/api.md", OLDER),
    ("notes.md~", "notes.md", EDITED),
)


def build_documentation(conn: sqlite3.Connection) -> None:
    """Legacy documentation with the same content under several paths and backup copies."""
    create(
        conn,
        """
CREATE TABLE "documentation" (
    "id" INTEGER PRIMARY KEY,
    "path" TEXT,
    "title" TEXT,
    "content" TEXT,
    "updated_at" TEXT
)""",
    )
    rng = seeded_random("documentation")
    originals: dict[str, Row] = {}
    for path, title in DOC_TOPICS.items():
        paragraphs = [" ".join(rng.sample(DOC_SENTENCES, rng.randrange(2, 5))) for _ in range(rng.randrange(2, 5))]
        heading = title or path.rsplit("/", 1)[-1].removesuffix(".md").replace("_", " ").title()
        originals[path] = {
            "path": path,
            "title": title,
            "content": f"# {heading}\n\n" + "\n\n".join(paragraphs) + "\n",
            "updated_at": str(random_moment(rng, within_days=15)),
        }
    copies = []
    for path, original_path, relation in DOC_COPIES:
        original = originals[original_path]
        content = original["content"]
        updated_at = datetime.fromisoformat(original["updated_at"])
        if relation == OLDER:
            content = content.rsplit("\n\n", 1)[0] + "\n"
            updated_at -= timedelta(days=4)
        elif relation == EDITED:
            content += "\nTODO: move these notes into the guide.\n"
            updated_at += timedelta(minutes=7)
        copies.append(
            {
                "path": path,
                "title": None if relation == EDITED else original["title"],
                "content": content,
                "updated_at": str(updated_at),
            }
        )
    insert_rows(
        conn,
        "documentation",
        [{"id": number, **entry} for number, entry in enumerate([*originals.values(), *copies], start=1)],
    )


LEARNED_PATTERN_KINDS = ("naming", "import_order", "sql_query", "error_handling", "docstring")


def build_learning_monitor(conn: sqlite3.Connection) -> None:
    """Learned patterns with binary fingerprints; the set's WAL-mode file."""
    create(
        conn,
        ENTERPRISE_METADATA_KEY_VALUE,
        """
CREATE TABLE "learned_patterns" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "pattern_name" TEXT NOT NULL,
    "pattern_kind" TEXT,
    "pattern_body" TEXT,
    "confidence" REAL,
    "fingerprint" BLOB,
    "learned_at" TEXT
)""",
    )
    development = {row["id"]: row for row in development_metadata()}
    insert_rows(
        conn,
        "enterprise_metadata",
        [
            {**development[1], "metadata_value": "Learned code patterns and their confidence"},
            development[2],
            development[3],
            {**development[4], "metadata_key": "environment", "metadata_value": "learning", "category": None},
        ],
    )
    rng = seeded_random("learned_patterns")
    rows = []
    for number in range(80):
        kind = rng.choice(LEARNED_PATTERN_KINDS)
        entity = rng.choice(PATTERN_ENTITIES)
        if number == 40:
            fingerprint: bytes | None = b""
        elif number % 16 == 0:
            fingerprint = rng.randbytes(8 + number % 9)
        else:
            fingerprint = None
        rows.append(
            {
                "pattern_name": f"{kind}:{entity}",
                "pattern_kind": None if number % 23 == 5 else kind,
                "pattern_body": f"^(?:get|load|save)_{entity}s?\\(conn(?:, \\w+)*\\)$",
                "confidence": round(rng.uniform(0.2, 1.0), 4),
                "fingerprint": fingerprint,
                "learned_at": random_moment(rng, within_days=12).isoformat(timespec="milliseconds"),
            }
        )
    insert_rows(conn, "learned_patterns", rows)


TEMPLATE_SKELETONS = {
    "python_script": (
        "#!/usr/bin/env python3\n"
        '"""${script_title}\n\n${description}\n"""\n'
        "import sqlite3\n\n"
        'DATABASE = "${database_name}"\n\n\n'
        "def main() -> None:\n"
        "    with sqlite3.connect(DATABASE) as conn:\n"
        '        count = conn.execute("SELECT COUNT(*) FROM ${table_name}").fetchone()[0]\n'
        '    print(f"${table_name}: {count} rows")\n\n\n'
        'if __name__ == "__main__":\n'
        "    main()\n"
    ),
    "shell_script": (
        "#!/bin/sh\n# ${script_title}\nset -eu\n\n"
        'sqlite3 "${database_name}" "PRAGMA integrity_check;"\n'
        'cp "${database_name}" "${backup_dir}/"\n'
    ),
    "readme": (
        "# ${project_title}\n\n${description}\n\n## Usage\n\n"
        "```sh\nassetdb inventory ${database_dir}\n```\n\nMaintained by ${owner}.\n"
    ),
    "sql_query": "SELECT ${columns}\nFROM ${table_name}\nWHERE ${condition}\nORDER BY ${order_column};\n",
    "config": (
        "[tool.assetdb]\nsize_limit = \"${size_limit}\"\n"
        'database_dir = "${database_dir}"\nbackup_dir = "${backup_dir}"\n'
    ),
    "pytest_test": (
        "import sqlite3\n\n\n"
        "def test_${table_name}_is_not_empty():\n"
        '    conn = sqlite3.connect("${database_name}")\n'
        '    assert conn.execute("SELECT COUNT(*) FROM ${table_name}").fetchone()[0] > 0\n'
    ),
}


# Later variants of a skeleton end with a comment in the template's own syntax.
TEMPLATE_VARIANT_TRAILERS = {
    "python_script": "# variant {variant}, maintained by ${{owner}}\n",
    "shell_script": "# variant {variant}, maintained by ${{owner}}\n",
    "readme": "<!-- variant {variant} -->\n",
    "sql_query": "-- variant {variant}, maintained by ${{owner}}\n",
    "config": "# variant {variant}, maintained by ${{owner}}\n",
    "pytest_test": "# variant {variant}, maintained by ${{owner}}\n",
}


PLACEHOLDER_DEFAULTS = {
    "backup_dir": ("../assetdb-backups", "paths"),
    "columns": ("*", "sql"),
    "condition": ("1 = 1", "sql"),
    "database_dir": ("databases/", "paths"),
    "database_name": ("enterprise_assets.db", "paths"),
    "description": (None, "text"),
    "order_column": ("id", "sql"),
    "owner": ("platform-team", "text"),
    "project_title": (None, "text"),
    "script_title": (None, "text"),
    "size_limit": ("99.9MB", "config"),
    "table_name": ("script_assets", "sql"),
}


def build_template_completion(conn: sqlite3.Connection) -> None:
    """``${name}`` templates and their defaults, in a table and columns that need quoting."""
    create(
        conn,
        """
CREATE TABLE "templates" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "template_id" TEXT UNIQUE,
    "name" TEXT,
    "template_content" TEXT,
    "placeholder_count" INTEGER DEFAULT 0,
    "usage_count" INTEGER DEFAULT 0,
    "completion_status" TEXT DEFAULT 'pending',
    "expansion_level" TEXT DEFAULT 'basic',
    "last_updated" TEXT,
    "created_at" TEXT DEFAULT CURRENT_TIMESTAMP
)""",
        """
CREATE TABLE "placeholder defaults" (
    "placeholder name" TEXT PRIMARY KEY,
    "default value" TEXT,
    "group" TEXT
)""",
    )
    rng = seeded_random("templates")
    rows = []
    for variant in range(4):
        for kind, skeleton in TEMPLATE_SKELETONS.items():
            content = skeleton + (TEMPLATE_VARIANT_TRAILERS[kind].format(variant=variant + 1) if variant else "")
            created = random_moment(rng, within_days=8)
            complete = rng.random() < 0.7
            rows.append(
                {
                    "template_id": f"tmpl_{len(rows) + 1:03d}",
                    "name": f"{kind.replace('_', ' ').title()} Template" + (f" v{variant + 1}" if variant else ""),
                    "template_content": content,
                    "placeholder_count": len(set(string.Template(content).get_identifiers())),
                    "usage_count": rng.randrange(0, 40),
                    "completion_status": "complete" if complete else "pending",
                    "expansion_level": rng.choice(("basic", "basic", "advanced")),
                    "last_updated": created.isoformat() if complete else None,
                    "created_at": created.isoformat(sep=" ", timespec="seconds"),
                }
            )
    insert_rows(conn, "templates", rows)
    insert_rows(
        conn,
        "placeholder defaults",
        [
            {"placeholder name": name, "default value": default, "group": group}
            for name, (default, group) in PLACEHOLDER_DEFAULTS.items()
        ],
    )
