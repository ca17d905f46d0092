"""Imports of the Excel files staff receive (CONTRACT §6): rosters and the course catalog."""
from services.imports.catalog import import_catalog
from services.imports.roster import import_roster
from services.imports.sheet import ImportReport, UnreadableFile

__all__ = ["import_roster", "import_catalog", "ImportReport", "UnreadableFile"]
