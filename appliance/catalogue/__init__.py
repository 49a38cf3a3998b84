"""The buyer's view: one catalogue per supplier kept up to date across mails, price history,
change events, anomalies and the comparison across suppliers.

Pure functions live here (names and keys, units, changes, comparison); the SQL is in
``appliance.store.catalogue*``; the dialogue calls ``appliance.workflow.catalogue``.
"""
