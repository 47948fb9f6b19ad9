"""Qt-free core: catalog, validation, store, progress. Never imports PySide6."""
