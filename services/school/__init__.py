"""The school: majors and fees, classes, the catalog and roster imports, demo data."""
