"""pytest-assetdb's pytest plugin: ``pytest --assetdb databases/`` gates every SQLite database.

The plugin itself lives in :mod:`pytest_assetdb.plugin` and is registered through the
``pytest11`` entry point; everything it checks is computed by :mod:`consolidation`.
"""
