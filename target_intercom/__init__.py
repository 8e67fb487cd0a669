"""target-intercom: a Singer target writing users, leads, companies and events to Intercom."""
