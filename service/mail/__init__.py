"""Email: the ledger that sends each message once, its composition, rendering and transport."""
