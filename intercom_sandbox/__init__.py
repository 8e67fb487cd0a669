"""Intercom REST API sandbox: a local, stateful, faithful Intercom API (2.16)."""
