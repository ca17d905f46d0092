"""What the staff console (教务后台) reads, and only reads: the dashboard's figures, trainee search
and a trainee's page, classes with their members and deliveries, fee summaries and the xlsx reports.
Staff's changes are the capabilities' actions (each taking an actor and writing its audit row).
Plain values in, plain results out; no Flask."""
