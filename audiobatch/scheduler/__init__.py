"""Nightly schedules: cron slots in a time zone, and firing the slots that are due."""
