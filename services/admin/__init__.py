"""What the staff console (教务后台) reads and changes beyond the commands' services: rosters
waiting for confirmation, fee summaries, class edits and members, trainee search and edits, the
dashboard's figures and the xlsx reports. Plain values in, plain results out; no Flask."""
