"""Imports of the Excel files staff receive (CONTRACT §6): rosters and the course catalog."""
from services.school.imports.catalog import import_catalog
from services.school.imports.roster import import_roster
from services.school.imports.sheet import ImportReport, UnreadableFile

__all__ = ["import_roster", "import_catalog", "ImportReport", "UnreadableFile"]
