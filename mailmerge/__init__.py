"""Invitation mail merge: personalised PDF invitations sent by email and tracked in a ledger."""

__version__ = "0.1.0"
