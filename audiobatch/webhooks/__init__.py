"""Webhooks: signed event deliveries from the SQL outbox (see :mod:`audiobatch.db.webhooks`)."""
