"""PySide6 user interface: windows, models and dialogs that call the core services."""
