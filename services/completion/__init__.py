"""Completion (结业): completion records and their certificate numbers, certificates, verification,
the provincial export."""
