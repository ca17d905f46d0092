"""Notices (通知): what to tell whom, the outbox, its dispatcher, templates and SMS backends."""
